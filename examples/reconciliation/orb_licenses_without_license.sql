-- Active Orb licenses whose e-mail has no active integrator.io license
-- The seat is billed, but the licensee cannot use the integration app. (A seat whose subscription was not
-- synced has no e-mail: the question above lists it.)
select
    o.license_id,
    o.subscription_id,
    o.license_type,
    o.external_license_id,
    o.email
from orb_seats o
where o.is_active
    and o.email is not null
    and not exists (select 1 from licenses l where l.is_active and l.email = o.email)
order by o.email, o.license_id;
