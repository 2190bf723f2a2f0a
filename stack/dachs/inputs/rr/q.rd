<resource schema="rr">
  <meta name="creationDate">2026-11-22T00:00:00Z</meta>
  <meta name="title">Local RegTAP registry</meta>
  <meta name="description">
    A RegTAP 1.1 relational registry (with the RegTAP 1.2 spatial coverage
    table) holding the resource records this data center publishes through
    OAI-PMH, so that registry clients such as pyvo.registry can discover the
    local services without internet access.  Filled by harvesting
    /oai.xml; re-run ``dachs imp rr/q`` after publishing new services.
  </meta>
  <meta name="subject">Virtual observatory</meta>
  <meta name="creator.name">esap-dash</meta>
  <meta name="utype">ivo://ivoa.net/std/RegTAP#1.1</meta>

  <table id="resource" onDisk="True" adql="True">
    <meta name="description">RegTAP resource table.</meta>
    <column name="ivoid" type="text"/>
    <column name="res_type" type="text"/>
    <column name="created" type="timestamp"/>
    <column name="updated" type="timestamp"/>
    <column name="short_name" type="text"/>
    <column name="res_title" type="text"/>
    <column name="content_level" type="text"/>
    <column name="res_description" type="text"/>
    <column name="reference_url" type="text"/>
    <column name="creator_seq" type="text"/>
    <column name="content_type" type="text"/>
    <column name="source_format" type="text"/>
    <column name="source_value" type="text"/>
    <column name="res_version" type="text"/>
    <column name="region_of_regard" type="real"/>
    <column name="waveband" type="text"/>
    <column name="rights" type="text"/>
    <column name="rights_uri" type="text"/>
    <column name="harvested_from" type="text"/>
    <column name="harvested_on" type="timestamp"/>
  </table>
  <table id="capability" onDisk="True" adql="True">
    <meta name="description">RegTAP capability table.</meta>
    <column name="ivoid" type="text"/>
    <column name="cap_index" type="smallint"/>
    <column name="cap_name" type="text"/>
    <column name="cap_type" type="text"/>
    <column name="cap_description" type="text"/>
    <column name="standard_id" type="text"/>
  </table>
  <table id="interface" onDisk="True" adql="True">
    <meta name="description">RegTAP interface table.</meta>
    <column name="ivoid" type="text"/>
    <column name="cap_index" type="smallint"/>
    <column name="intf_index" type="smallint"/>
    <column name="intf_type" type="text"/>
    <column name="intf_role" type="text"/>
    <column name="std_version" type="text"/>
    <column name="query_type" type="text"/>
    <column name="result_type" type="text"/>
    <column name="wsdl_url" type="text"/>
    <column name="url_use" type="text"/>
    <column name="access_url" type="text"/>
    <column name="mirror_url" type="text"/>
    <column name="authenticated_only" type="smallint"/>
    <column name="security_method_id" type="text"/>
  </table>
  <table id="res_subject" onDisk="True" adql="True">
    <meta name="description">RegTAP res_subject table.</meta>
    <column name="ivoid" type="text"/>
    <column name="res_subject" type="text"/>
  </table>
  <table id="res_detail" onDisk="True" adql="True">
    <meta name="description">RegTAP res_detail table.</meta>
    <column name="ivoid" type="text"/>
    <column name="cap_index" type="smallint"/>
    <column name="detail_xpath" type="text"/>
    <column name="detail_value" type="text"/>
  </table>
  <table id="res_role" onDisk="True" adql="True">
    <meta name="description">RegTAP res_role table.</meta>
    <column name="ivoid" type="text"/>
    <column name="role_name" type="text"/>
    <column name="role_ivoid" type="text"/>
    <column name="street_address" type="text"/>
    <column name="email" type="text"/>
    <column name="telephone" type="text"/>
    <column name="logo" type="text"/>
    <column name="base_role" type="text"/>
  </table>
  <table id="res_date" onDisk="True" adql="True">
    <meta name="description">RegTAP res_date table.</meta>
    <column name="ivoid" type="text"/>
    <column name="date_value" type="timestamp"/>
    <column name="value_role" type="text"/>
  </table>
  <table id="relationship" onDisk="True" adql="True">
    <meta name="description">RegTAP relationship table.</meta>
    <column name="ivoid" type="text"/>
    <column name="relationship_type" type="text"/>
    <column name="related_id" type="text"/>
    <column name="related_name" type="text"/>
  </table>
  <table id="alt_identifier" onDisk="True" adql="True">
    <meta name="description">RegTAP alt_identifier table.</meta>
    <column name="ivoid" type="text"/>
    <column name="alt_identifier" type="text"/>
  </table>
  <table id="validation" onDisk="True" adql="True">
    <meta name="description">RegTAP validation table.</meta>
    <column name="ivoid" type="text"/>
    <column name="validated_by" type="text"/>
    <column name="val_level" type="smallint"/>
    <column name="cap_index" type="smallint"/>
  </table>
  <table id="res_schema" onDisk="True" adql="True">
    <meta name="description">RegTAP res_schema table.</meta>
    <column name="ivoid" type="text"/>
    <column name="schema_index" type="smallint"/>
    <column name="schema_name" type="text"/>
    <column name="schema_title" type="text"/>
    <column name="schema_description" type="text"/>
    <column name="schema_utype" type="text"/>
  </table>
  <table id="res_table" onDisk="True" adql="True">
    <meta name="description">RegTAP res_table table.</meta>
    <column name="ivoid" type="text"/>
    <column name="schema_index" type="smallint"/>
    <column name="table_index" type="smallint"/>
    <column name="table_name" type="text"/>
    <column name="table_title" type="text"/>
    <column name="table_description" type="text"/>
    <column name="table_utype" type="text"/>
    <column name="table_type" type="text"/>
    <column name="nrows" type="bigint"/>
  </table>
  <table id="table_column" onDisk="True" adql="True">
    <meta name="description">RegTAP table_column table.</meta>
    <column name="ivoid" type="text"/>
    <column name="table_index" type="smallint"/>
    <column name="name" type="text"/>
    <column name="ucd" type="text"/>
    <column name="unit" type="text"/>
    <column name="utype" type="text"/>
    <column name="std" type="smallint"/>
    <column name="datatype" type="text"/>
    <column name="extended_schema" type="text"/>
    <column name="extended_type" type="text"/>
    <column name="arraysize" type="text"/>
    <column name="delim" type="text"/>
    <column name="type_system" type="text"/>
    <column name="flag" type="text"/>
    <column name="column_description" type="text"/>
  </table>
  <table id="intf_param" onDisk="True" adql="True">
    <meta name="description">RegTAP intf_param table.</meta>
    <column name="ivoid" type="text"/>
    <column name="intf_index" type="smallint"/>
    <column name="name" type="text"/>
    <column name="ucd" type="text"/>
    <column name="unit" type="text"/>
    <column name="utype" type="text"/>
    <column name="std" type="smallint"/>
    <column name="datatype" type="text"/>
    <column name="extended_schema" type="text"/>
    <column name="extended_type" type="text"/>
    <column name="arraysize" type="text"/>
    <column name="delim" type="text"/>
    <column name="param_use" type="text"/>
    <column name="param_description" type="text"/>
  </table>
  <table id="stc_spatial" onDisk="True" adql="True">
    <meta name="description">RegTAP stc_spatial table.</meta>
    <column name="ivoid" type="text"/>
    <column name="coverage" type="smoc"/>
    <column name="ref_system_name" type="text"/>
  </table>

  <data id="import">
    <sources item="oai"/>
    <customGrammar module="res/harvest" isDispatching="True"/>
    <make table="resource" role="resource"><rowmaker idmaps="*"/></make>
    <make table="capability" role="capability"><rowmaker idmaps="*"/></make>
    <make table="interface" role="interface"><rowmaker idmaps="*"/></make>
    <make table="res_subject" role="res_subject"><rowmaker idmaps="*"/></make>
    <make table="res_detail" role="res_detail"><rowmaker idmaps="*"/></make>
    <make table="res_role" role="res_role"><rowmaker idmaps="*"/></make>
    <make table="res_date" role="res_date"><rowmaker idmaps="*"/></make>
    <make table="relationship" role="relationship"><rowmaker idmaps="*"/></make>
    <make table="alt_identifier" role="alt_identifier"><rowmaker idmaps="*"/></make>
    <make table="validation" role="validation"><rowmaker idmaps="*"/></make>
    <make table="res_schema" role="res_schema"><rowmaker idmaps="*"/></make>
    <make table="res_table" role="res_table"><rowmaker idmaps="*"/></make>
    <make table="table_column" role="table_column"><rowmaker idmaps="*"/></make>
    <make table="intf_param" role="intf_param"><rowmaker idmaps="*"/></make>
    <make table="stc_spatial" role="stc_spatial">
      <rowmaker idmaps="ivoid,ref_system_name">
        <map dest="coverage">pgsphere.SMoc.fromDALI(@coverage)</map>
      </rowmaker>
    </make>
  </data>
</resource>
