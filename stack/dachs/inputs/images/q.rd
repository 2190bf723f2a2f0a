<resource schema="images">
  <meta name="creationDate">2026-11-22T00:00:00Z</meta>
  <meta name="title">esap-dash sample images</meta>
  <meta name="description">
    Real FITS images with celestial WCS from the test data that astroquery
    and astropy ship: UKIDSS K band and a POSS-I plate scan of the Crab
    Nebula (M1), MAGPIS and FIRST 20 cm radio images, an IRAS/COBE dust map
    cutout, Messier 13 and a DSS plate scan.  Published in ObsCore and
    through the site's SIA v2 service; the files are served by DaCHS.
  </meta>
  <meta name="subject">Images</meta>
  <meta name="subject">Supernova remnants</meta>
  <meta name="creator.name">UKIDSS, MAGPIS, FIRST, NED, IRSA, STScI DSS teams</meta>
  <meta name="publisher">esap-dash local data center</meta>
  <meta name="contact.name">esap-dash operators</meta>
  <meta name="contact.email">operators@esapdash.local</meta>
  <meta name="rights">Test data of astroquery and astropy (BSD-3-Clause
    packages); the images remain credited to their surveys.</meta>
  <meta name="content.type">Archive</meta>
  <meta name="coverage.waveband">Optical</meta>
  <meta name="coverage.waveband">Infrared</meta>
  <meta name="coverage.waveband">Radio</meta>

  <table id="main" onDisk="True" adql="True" mixin="//products#table">
    <mixin
      productType="'image'"
      calibLevel="2"
      collectionName="'esap-dash images'"
      title="title"
      targetName="target_name"
      facilityName="facility"
      ra="s_ra"
      dec="s_dec"
      fov="s_fov"
      coverage="s_region"
      sXel1="naxis1"
      sXel2="naxis2"
      sPixelScale="pixel_scale"
      emMin="em_min"
      emMax="em_max"
      oUCD="'phot.flux.density'"
      preview="NULL"
    >//obscore#publish</mixin>
    <meta name="description">Sample images with their footprints.</meta>
    <meta name="_associatedDatalinkService">
      <meta name="serviceId">dl</meta>
      <meta name="idColumn">accref</meta>
    </meta>
    <column name="title" type="text" ucd="meta.title" tablehead="Title"
      description="Image title" verbLevel="1"/>
    <column name="target_name" type="text" ucd="meta.id;src"
      tablehead="Target" description="Target designation" verbLevel="1"/>
    <column name="facility" type="text" ucd="instr.tel"
      tablehead="Facility" description="Telescope or survey" verbLevel="10"/>
    <column name="s_ra" type="double precision" unit="deg"
      ucd="pos.eq.ra;meta.main" tablehead="RA" verbLevel="1"
      description="Image centre, RA (ICRS)"/>
    <column name="s_dec" type="double precision" unit="deg"
      ucd="pos.eq.dec;meta.main" tablehead="Dec" verbLevel="1"
      description="Image centre, Dec (ICRS)"/>
    <column name="s_fov" type="double precision" unit="deg"
      ucd="phys.angSize;instr.fov" tablehead="FoV" verbLevel="10"
      description="Diameter of the circle around the image"/>
    <column name="s_region" type="spoly" unit="deg"
      ucd="pos.outline;obs.field" tablehead="Footprint" verbLevel="10"
      description="Image footprint (ICRS)"/>
    <column name="naxis1" type="integer" required="True" unit="pixel"
      ucd="meta.number;pos.eq.ra" tablehead="Width" verbLevel="15"
      description="Pixels along the first axis"/>
    <column name="naxis2" type="integer" required="True" unit="pixel"
      ucd="meta.number;pos.eq.dec" tablehead="Height" verbLevel="15"
      description="Pixels along the second axis"/>
    <column name="pixel_scale" type="double precision" unit="arcsec"
      ucd="instr.scale" tablehead="Scale" verbLevel="15"
      description="Mean pixel size"/>
    <column name="em_min" type="double precision" unit="m"
      ucd="em.wl;stat.min" tablehead="lambda min" verbLevel="15"
      description="Lower end of the band"/>
    <column name="em_max" type="double precision" unit="m"
      ucd="em.wl;stat.max" tablehead="lambda max" verbLevel="15"
      description="Upper end of the band"/>
  </table>

  <coverage>
    <updater sourceTable="main"/>
    <spatial/>
  </coverage>

  <data id="import">
    <sources>data/images.csv</sources>
    <csvGrammar>
      <rowfilter procDef="//products#define">
        <bind key="table">"\schema.main"</bind>
        <bind key="accref">@accref</bind>
        <bind key="path">@accref</bind>
        <bind key="fsize">int(@fsize)</bind>
        <bind key="mime">"image/fits"</bind>
      </rowfilter>
    </csvGrammar>
    <make table="main">
      <rowmaker idmaps="title,target_name,facility,s_ra,s_dec,s_fov,naxis1,naxis2,pixel_scale,em_min,em_max">
        <map dest="s_region">pgsphere.SPoly.fromDALI(
          [float(v) for v in @corners.split()])</map>
      </rowmaker>
    </make>
  </data>

  <service id="dl" allowed="dlget,dlmeta">
    <meta name="title">esap-dash images: DataLink and SODA</meta>
    <meta name="description">Links of each image (the file, its FITS header)
      and SODA cutouts (CIRCLE, POLYGON, POS, pixel ranges) of it.</meta>
    <datalinkCore>
      <descriptorGenerator procDef="//soda#fits_genDesc">
        <bind key="accrefPrefix">"images/data/"</bind>
      </descriptorGenerator>
      <FEED source="//soda#fits_standardDLFuncs"/>
    </datalinkCore>
  </service>

  <service id="hips" allowed="static">
    <meta name="title">esap-dash photographic plates (HiPS)</meta>
    <meta name="description">A HiPS (FITS tiles) of the POSS-I E plate of M1 and a
      UK Schmidt plate, made with reproject; static files.</meta>
    <nullCore/>
    <property name="staticData">hips</property>
  </service>
</resource>
