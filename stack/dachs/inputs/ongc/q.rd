<resource schema="ongc">
  <meta name="creationDate">2026-11-22T00:00:00Z</meta>
  <meta name="title">OpenNGC: the NGC and IC catalogues with Messier objects</meta>
  <meta name="description">
    OpenNGC is a licence-free database of the NGC and IC catalogues and the
    Messier objects, compiled by Mattia Verga from NED, HyperLEDA, SIMBAD and
    the historical catalogues.  14,033 objects with positions, types,
    dimensions, magnitudes, cross-identifications and common names.
  </meta>
  <meta name="subject">NGC objects</meta>
  <meta name="subject">Galaxies</meta>
  <meta name="subject">Nebulae</meta>
  <meta name="subject">Star clusters</meta>
  <meta name="creator.name">Verga, M.</meta>
  <meta name="publisher">esap-dash local data center</meta>
  <meta name="contact.name">esap-dash operators</meta>
  <meta name="contact.email">operators@esapdash.local</meta>
  <meta name="rights">CC-BY-SA-4.0 (OpenNGC database, distributed in the pyongc package)</meta>
  <meta name="source">https://github.com/mattiaverga/OpenNGC</meta>
  <meta name="content.type">Catalog</meta>
  <meta name="facility">Compilation</meta>
  <meta name="coverage.waveband">Optical</meta>

  <table id="main" onDisk="True" adql="True" mixin="//scs#q3cindex"
      primary="name">
    <meta name="description">The OpenNGC objects (positions J2000/ICRS).</meta>
    <column name="name" type="text" ucd="meta.id;meta.main"
      tablehead="Name" description="Object designation as in OpenNGC
      (e.g. NGC0224, IC0434)" verbLevel="1"/>
    <column name="obj_type" type="text" ucd="src.class"
      tablehead="Type" description="OpenNGC object type code (G galaxy,
      OCl open cluster, PN planetary nebula, SNR supernova remnant ...)"
      verbLevel="1"/>
    <column name="raj2000" type="double precision" unit="deg"
      ucd="pos.eq.ra;meta.main" tablehead="RA" verbLevel="1"
      description="Right ascension (J2000)"/>
    <column name="dej2000" type="double precision" unit="deg"
      ucd="pos.eq.dec;meta.main" tablehead="Dec" verbLevel="1"
      description="Declination (J2000)"/>
    <column name="const" type="text" ucd="meta.id.part"
      tablehead="Const." description="Constellation" verbLevel="10"/>
    <column name="majax" type="real" unit="arcmin" ucd="phys.angSize;src"
      tablehead="Major axis" description="Major axis" verbLevel="10"/>
    <column name="minax" type="real" unit="arcmin" ucd="phys.angSize"
      tablehead="Minor axis" description="Minor axis" verbLevel="10"/>
    <column name="pa" type="real" unit="deg" ucd="pos.posAng"
      tablehead="PA" description="Position angle" verbLevel="15"/>
    <column name="bmag" type="real" unit="mag" ucd="phot.mag;em.opt.B"
      tablehead="B" description="B magnitude" verbLevel="10"/>
    <column name="vmag" type="real" unit="mag" ucd="phot.mag;em.opt.V"
      tablehead="V" description="V magnitude" verbLevel="10"/>
    <column name="messier" type="text" ucd="meta.id.cross"
      tablehead="Messier" description="Messier number (e.g. M31), if any"
      verbLevel="1"/>
    <column name="common_names" type="text" ucd="meta.id"
      tablehead="Common names" description="Comma-separated common names"
      verbLevel="10"/>
    <column name="identifiers" type="text" ucd="meta.id.cross"
      tablehead="Other ids" description="Comma-separated cross identifiers"
      verbLevel="15"/>
    <column name="hubble" type="text" ucd="src.morph.type"
      tablehead="Hubble" description="Hubble morphological type"
      verbLevel="15"/>
    <column name="redshift" type="double precision" ucd="src.redshift"
      tablehead="z" description="Redshift" verbLevel="15"/>
  </table>

  <coverage>
    <updater sourceTable="main"/>
    <spatial/>
  </coverage>

  <data id="import">
    <sources>data/ongc.csv</sources>
    <csvGrammar/>
    <make table="main">
      <rowmaker idmaps="*"/>
    </make>
  </data>

  <service id="cone" allowed="scs.xml,form">
    <meta name="shortName">OpenNGC cone</meta>
    <meta name="title">OpenNGC cone search</meta>
    <meta name="testQuery.ra">83.633</meta>
    <meta name="testQuery.dec">22.014</meta>
    <meta name="testQuery.sr">0.1</meta>
    <publish render="scs.xml" sets="ivo_managed"/>
    <publish render="form" sets="local"/>
    <scsCore queriedTable="main">
      <FEED source="//scs#coreDescs"/>
    </scsCore>
  </service>
</resource>
