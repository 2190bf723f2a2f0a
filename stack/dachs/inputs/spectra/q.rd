<resource schema="spectra">
  <meta name="creationDate">2026-11-29T00:00:00Z</meta>
  <meta name="title">esap-dash sample spectra</meta>
  <meta name="description">
    Real spectra from the test data that astroquery ships: the Arecibo
    ALFALFA HI 21 cm spectrum of the galaxy AGC 100051, a near-infrared
    spectrum of SN 2014J in M82 and three optical spectra of SN 1998bw, as
    the Open Supernova Catalog gives them.  Published through SSA and
    ObsCore; each spectrum is a FITS table (spectral axis, flux density).
  </meta>
  <meta name="subject">Spectra</meta>
  <meta name="subject">Supernovae</meta>
  <meta name="subject">HI galaxies</meta>
  <meta name="creator.name">ALFALFA team; Open Supernova Catalog</meta>
  <meta name="publisher">esap-dash local data center</meta>
  <meta name="contact.name">esap-dash operators</meta>
  <meta name="contact.email">operators@esapdash.local</meta>
  <meta name="instrument">Arecibo ALFA; various</meta>
  <meta name="rights">Test data of astroquery (a BSD-3-Clause package); the
    spectra remain credited to the ALFALFA survey and to the observers the
    Open Supernova Catalog cites.</meta>
  <meta name="content.type">Archive</meta>
  <meta name="coverage.waveband">Optical</meta>
  <meta name="coverage.waveband">Infrared</meta>
  <meta name="coverage.waveband">Radio</meta>
  <meta name="ssap.dataSource">pointed</meta>
  <meta name="ssap.creationType">archival</meta>
  <meta name="productType">spectrum</meta>
  <meta name="ssap.testQuery">MAXREC=1</meta>

  <table id="raw_data" onDisk="True" adql="hidden" namePath="//ssap#instance">
    <LOOP listItems="ssa_dateObs ssa_dstitle ssa_targname ssa_length
        ssa_aperture ssa_redshift">
      <events>
        <column original="\item"/>
      </events>
    </LOOP>
    <mixin>//products#table</mixin>
    <mixin>//ssap#plainlocation</mixin>
    <mixin>//ssap#simpleCoverage</mixin>
    <column original="ssa_specstart"/>
    <column original="ssa_specend"/>
    <column name="targclass" type="text" ucd="src.class"
      description="Object class (SIMBAD type)"/>
    <column name="instrument" type="text" ucd="instr"
      description="Telescope and instrument"/>
    <column name="bandpass" type="text" ucd="instr.bandpass"
      description="Rough spectral band"/>
    <column name="spectral_unit" type="text" ucd="meta.unit"
      description="Unit of the spectral axis in the file"/>
    <column name="spectral_ucd" type="text" ucd="meta.ucd"
      description="UCD of the spectral axis in the file"/>
    <column name="flux_unit" type="text" ucd="meta.unit"
      description="Unit of the flux axis in the file"/>
    <column name="flux_ucd" type="text" ucd="meta.ucd"
      description="UCD of the flux axis in the file"/>
  </table>

  <data id="import">
    <recreateAfter>make_view</recreateAfter>
    <sources>data/spectra.csv</sources>
    <csvGrammar>
      <rowfilter procDef="//products#define">
        <bind key="table">"\schema.raw_data"</bind>
        <bind key="accref">@accref</bind>
        <bind key="path">@accref</bind>
        <bind key="fsize">int(@fsize)</bind>
        <bind key="mime">"application/fits"</bind>
      </rowfilter>
    </csvGrammar>
    <make table="raw_data">
      <rowmaker idmaps="ssa_location,ssa_region">
        <apply procDef="//ssap#fill-plainlocation">
          <bind key="ra">float(@ra)</bind>
          <bind key="dec">float(@dec)</bind>
          <bind key="aperture">float(@aperture)</bind>
        </apply>
        <map key="ssa_dateObs">float(@mjd) if @mjd else None</map>
        <map key="ssa_dstitle">@title</map>
        <map key="ssa_targname">@target_name</map>
        <map key="ssa_length">int(@length)</map>
        <map key="ssa_aperture">float(@aperture)</map>
        <map key="ssa_redshift">float(@redshift)</map>
        <map key="ssa_specstart">float(@spec_start)</map>
        <map key="ssa_specend">float(@spec_end)</map>
        <map key="targclass">@target_class</map>
        <map key="instrument">@facility or None</map>
        <map key="bandpass">@bandpass</map>
        <map key="spectral_unit">@spectral_unit</map>
        <map key="spectral_ucd">@spectral_ucd</map>
        <map key="flux_unit">@flux_unit</map>
        <map key="flux_ucd">@flux_ucd</map>
      </rowmaker>
    </make>
  </data>

  <table id="data" onDisk="True" adql="True">
    <meta name="description">The spectra, as SSA and ObsCore describe them.</meta>
    <mixin
      sourcetable="raw_data"
      copiedcolumns="ssa_*"
      ssa_region="ssa_region"
      ssa_fluxunit="flux_unit"
      ssa_spectralunit="spectral_unit"
      ssa_fluxucd="flux_ucd"
      ssa_spectralucd="spectral_ucd"
      ssa_bandpass="bandpass"
      ssa_targclass="targclass"
      ssa_instrument="instrument"
      ssa_collection="'esap-dash spectra'"
      ssa_fluxcalib="'CALIBRATED'"
      ssa_speccalib="'ABSOLUTE'"
    >//ssap#view</mixin>
    <mixin
      calibLevel="2"
      coverage="ssa_region"
      oUCD="ssa_fluxucd"
      emUCD="ssa_spectralucd"
    >//obscore#publishSSAPMIXC</mixin>
  </table>

  <data id="make_view" auto="False">
    <make table="data"/>
  </data>

  <coverage>
    <updater sourceTable="data"/>
    <spatial/>
  </coverage>

  <service id="ssa" allowed="ssap.xml">
    <meta name="shortName">esap-dash SSA</meta>
    <meta name="title">esap-dash sample spectra (SSA)</meta>
    <meta name="ssap.complianceLevel">query</meta>
    <publish render="ssap.xml" sets="ivo_managed"/>
    <ssapCore queriedTable="data">
      <FEED source="//ssap#hcd_condDescs"/>
    </ssapCore>
  </service>
</resource>
