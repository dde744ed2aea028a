-- Licenses per connector
-- Every connector, also those without licenses; `active` licenses are not expired.
select
    k.name as connector_name,
    k._id as connector_id,
    count(l.license_id) as licenses,
    count(l.license_id) filter (where l.is_active) as active,
    count(l.license_id) filter (where l.is_active and l.is_installed) as installed,
    count(l.license_id) filter (where l.is_active and l.in_trial) as in_trial,
    count(l.license_id) filter (where not l.is_active) as expired
from integrator_io_connectors k
left join licenses l on l.connector_id = k._id
group by all
order by licenses desc, connector_name, connector_id;
