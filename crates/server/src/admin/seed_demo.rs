//! `jpstart admin seed-demo`: a fresh database filled with a realistic year
//! of activity, so that a newcomer sees a living portal (and the reports,
//! benchmarks and screenshots have data) within a minute.
//!
//! Everything goes through the [`Store`](crate::store::Store), each
//! operation at its own explicit time, so the rows, events, states and
//! limits are exactly what the API would have left: three partners (one
//! with a test key and two resellers' sub-keys), sites provisioned over the
//! twelve months before now (more towards the end, as a growing business),
//! most connected by their owners within days, some upgraded, some
//! cancelled (a few provisioned again days later), some still pending or
//! expired. The plan is drawn from a seeded random generator: the same
//! `--seed` gives the same history (relative to now).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jpstart_types::reporting::{DemoKey, DemoPartner, DemoSeeded};
use jpstart_types::{KeyId, PartnerId, ProductSlug, SiteIdentifier, SiteRef};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Admin, AdminError};
use crate::clock::Timestamp;
use crate::domain::rules::CancelTarget;
use crate::secrets;
use crate::store::{ActivationFilter, CancelRequest, NewSubKey, ProvisionRequest, ProvisionSite};

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;
const YEAR: i64 = 365 * DAY;
const PENDING_TTL: Duration = Duration::from_secs(14 * 24 * 3600);

/// What to seed.
#[derive(Debug, Clone, Copy)]
pub struct SeedDemo {
    /// About this many activations in all.
    pub activations: u32,
    /// The random generator's seed.
    pub seed: u64,
}

/// The partners: name, share of the sites, keys (name, test, sub-key
/// limits when a sub-key, share of the partner's sites).
struct PartnerSpec {
    name: &'static str,
    share: f64,
    keys: &'static [KeySpec],
}

struct KeySpec {
    name: &'static str,
    test: bool,
    sub_key: bool,
    share: f64,
}

const PARTNERS: &[PartnerSpec] = &[
    PartnerSpec {
        name: "Example Hosting",
        share: 0.6,
        keys: &[
            KeySpec {
                name: "production",
                test: false,
                sub_key: false,
                share: 0.7,
            },
            KeySpec {
                name: "staging",
                test: true,
                sub_key: false,
                share: 0.1,
            },
            KeySpec {
                name: "Reseller North",
                test: false,
                sub_key: true,
                share: 0.12,
            },
            KeySpec {
                name: "Reseller South",
                test: false,
                sub_key: true,
                share: 0.08,
            },
        ],
    },
    PartnerSpec {
        name: "Demo Cloud",
        share: 0.3,
        keys: &[KeySpec {
            name: "production",
            test: false,
            sub_key: false,
            share: 1.0,
        }],
    },
    PartnerSpec {
        name: "Sample Sites Co.",
        share: 0.1,
        keys: &[KeySpec {
            name: "production",
            test: false,
            sub_key: false,
            share: 1.0,
        }],
    },
];

/// A sub-key's limits: room for every site it is given.
const SUB_KEY_LIMITS: &[(&str, i64)] = &[
    ("premium", 100_000),
    ("professional", 100_000),
    ("jetpack-scan", 100_000),
];

const WORDS: &[&str] = &[
    "bakery", "studio", "garden", "travel", "photo", "tech", "coffee", "yoga", "books", "design",
    "music", "craft", "bikes", "pets", "school", "clinic", "law", "farm", "wine", "games",
];

/// One operation of the plan, at its time.
#[derive(Debug, Clone)]
enum Op {
    Provision {
        key: usize,
        site: usize,
        plan: &'static str,
    },
    Connect {
        site: usize,
    },
    Cancel {
        key: usize,
        site: usize,
    },
}

/// The plan of one site's life from its first provision.
fn site_ops(
    rng: &mut StdRng,
    key: usize,
    sub_key: bool,
    site: usize,
    t0: i64,
    now: i64,
) -> Vec<(i64, Op)> {
    let mut ops = Vec::new();
    let plan: &'static str = if sub_key {
        if rng.random_bool(0.8) {
            "premium"
        } else {
            "jetpack-scan"
        }
    } else {
        match rng.random_range(0..100) {
            0..35 => "personal",
            35..75 => "premium",
            75..85 => "professional",
            85..93 => "jetpack-backup-daily",
            _ => "jetpack-scan",
        }
    };
    ops.push((t0, Op::Provision { key, site, plan }));
    // Some owners never approve: pending, then expired.
    if rng.random_bool(0.15) {
        return ops;
    }
    let connected = t0 + rng.random_range(MINUTE..3 * DAY);
    ops.push((connected, Op::Connect { site }));
    let mut last = connected;
    let upgrade = match plan {
        "personal" => Some("premium"),
        "premium" => Some("professional"),
        _ => None,
    };
    if let Some(up) = upgrade.filter(|_| rng.random_bool(0.2)) {
        last += rng.random_range(10 * DAY..120 * DAY);
        ops.push((
            last,
            Op::Provision {
                key,
                site,
                plan: up,
            },
        ));
    }
    if plan == "personal" && rng.random_bool(0.1) {
        ops.push((
            connected + rng.random_range(DAY..60 * DAY),
            Op::Provision {
                key,
                site,
                plan: "jetpack-scan",
            },
        ));
    }
    if rng.random_bool(0.15) {
        let cancel = last + rng.random_range(5 * DAY..200 * DAY);
        ops.push((cancel, Op::Cancel { key, site }));
        // Changed their mind: the same product again days later.
        if rng.random_bool(0.3) {
            ops.push((
                cancel + rng.random_range(DAY..5 * DAY),
                Op::Provision { key, site, plan },
            ));
        }
    }
    ops.retain(|(t, _)| *t < now);
    ops
}

/// The made keys, in [`PARTNERS`] order.
struct MadeKey {
    id: KeyId,
    partner: PartnerId,
    sub_key: bool,
    /// Its share of all sites.
    weight: f64,
}

impl Admin {
    /// Fills a fresh database (no partner yet; refused otherwise) with a
    /// year of activity ending now (the test clock's now if it was moved).
    pub async fn seed_demo(&self, opts: SeedDemo) -> Result<DemoSeeded, AdminError> {
        let started = Instant::now();
        if !self.store.keys(None).await?.is_empty() {
            return Err(AdminError::Invalid(
                "seed-demo fills a fresh database; this one already has partners".into(),
            ));
        }
        let offset = self.store.clock_offset().await?;
        let now = self.clock.now().as_millis().saturating_add(offset.max(0));
        let start = now - YEAR;
        let mut rng = StdRng::seed_from_u64(opts.seed);
        let (partners, keys) = self.demo_keys(start).await?;
        let sites = (f64::from(opts.activations) / 1.12).ceil() as usize;
        let mut ops = Vec::new();
        for site in 0..sites {
            let key = pick_key(&mut rng, &keys);
            // Growth: the density of first provisions rises through the year.
            let t0 = start + (rng.random::<f64>().sqrt() * YEAR as f64) as i64;
            ops.extend(site_ops(&mut rng, key, keys[key].sub_key, site, t0, now));
        }
        ops.sort_by_key(|(t, _)| *t);
        let mut refused = 0;
        let mut month = -1;
        for (t, op) in &ops {
            // Expire what ran out as the year goes, once a month of it.
            if t / (30 * DAY) != month {
                month = t / (30 * DAY);
                self.store
                    .expire_pending(Timestamp::from_millis(*t))
                    .await?;
            }
            if !self.apply(op, &keys, Timestamp::from_millis(*t)).await? {
                refused += 1;
            }
        }
        self.store
            .expire_pending(Timestamp::from_millis(now))
            .await?;
        let first = partners.first().map_or(1, |p| p.partner_id as i64);
        let partner_user = self
            .create_partner_user(first, "demo@example.com", Some("Demo Manager"), None)
            .await?;
        let all = self.store.activations(&ActivationFilter::default()).await?;
        let mut states = BTreeMap::new();
        for a in &all {
            *states.entry(a.state.to_string()).or_insert(0u64) += 1;
        }
        Ok(DemoSeeded {
            from: Timestamp::from_millis(start).rfc3339(),
            to: Timestamp::from_millis(now).rfc3339(),
            partners,
            sites: sites as u64,
            activations: all.len() as u64,
            states,
            refused,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            partner_user,
            portal: "/portal/login (sign in with partner_user's email and password)".into(),
        })
    }

    async fn demo_keys(&self, at: i64) -> Result<(Vec<DemoPartner>, Vec<MadeKey>), AdminError> {
        let now = Timestamp::from_millis(at);
        let mut partners = Vec::new();
        let mut made = Vec::new();
        for spec in PARTNERS {
            let partner = self.store.create_partner(spec.name, now).await?;
            let mut keys = Vec::new();
            let mut top: Option<KeyId> = None;
            for k in spec.keys {
                let secret = secrets::generate();
                let id = if k.sub_key {
                    let parent = top
                        .ok_or_else(|| AdminError::Invalid("a sub-key before its parent".into()))?;
                    self.demo_sub_key(parent, k.name, &secret, now).await?
                } else {
                    let id = self
                        .store
                        .create_key(
                            &crate::store::NewKey {
                                partner_id: partner,
                                parent_key_id: None,
                                name: k.name.to_string(),
                                secret_digest: secrets::digest(&secret),
                                test: k.test,
                                limits: Vec::new(),
                            },
                            now,
                        )
                        .await?;
                    if !k.test {
                        top.get_or_insert(id);
                    }
                    id
                };
                keys.push(DemoKey {
                    key_id: id.get().unsigned_abs(),
                    name: k.name.to_string(),
                    parent_key_id: k
                        .sub_key
                        .then(|| top.map(|t| t.get().unsigned_abs()))
                        .flatten(),
                    test: k.test,
                    client_id: id.to_string(),
                    client_secret: secret,
                });
                made.push(MadeKey {
                    id,
                    partner,
                    sub_key: k.sub_key,
                    weight: spec.share * k.share,
                });
            }
            partners.push(DemoPartner {
                partner_id: partner.get().unsigned_abs(),
                name: spec.name.to_string(),
                keys,
            });
        }
        Ok((partners, made))
    }

    async fn demo_sub_key(
        &self,
        parent: KeyId,
        name: &str,
        secret: &str,
        now: Timestamp,
    ) -> Result<KeyId, AdminError> {
        let limits = SUB_KEY_LIMITS
            .iter()
            .filter_map(|(s, n)| ProductSlug::parse(s).ok().map(|s| (s, *n)))
            .collect();
        let new = NewSubKey {
            parent,
            name: name.to_string(),
            secret_digest: secrets::digest(secret),
            limits,
            max_sub_keys: u32::MAX,
        };
        self.store
            .create_sub_key(&new, now)
            .await?
            .map_err(|r| AdminError::Invalid(format!("sub-key {name}: {r:?}")))
    }

    /// Applies one operation; `false` when the rules refused it.
    async fn apply(&self, op: &Op, keys: &[MadeKey], now: Timestamp) -> Result<bool, AdminError> {
        match op {
            Op::Provision { key, site, plan } => {
                let product = ProductSlug::parse(plan)
                    .ok()
                    .and_then(|s| self.catalogue.resolve(&s))
                    .ok_or_else(|| {
                        AdminError::Invalid(format!("{plan} is not in the catalogue"))
                    })?;
                let (identifier, url) = site_address(*site)?;
                let req = ProvisionRequest {
                    key_id: keys[*key].id,
                    partner_id: keys[*key].partner,
                    site: ProvisionSite::Url { identifier, url },
                    local_user: Some(format!("owner{site}")),
                    product: Some(product),
                    force_register: false,
                    force_connect: false,
                    partner_tracking_id: Some(format!("demo-{site}")),
                    now,
                    pending_ttl: PENDING_TTL,
                    auth_link_digest: secrets::digest(&secrets::generate()),
                };
                Ok(self.store.provision(&req).await?.is_ok())
            }
            Op::Connect { site } => {
                let (identifier, _) = site_address(*site)?;
                Ok(self
                    .store
                    .connect_site(&SiteRef::Identifier(identifier), now)
                    .await?
                    .is_some())
            }
            Op::Cancel { key, site } => {
                let (identifier, _) = site_address(*site)?;
                let req = CancelRequest {
                    key_id: keys[*key].id,
                    site: SiteRef::Identifier(identifier),
                    target: CancelTarget::All,
                    now,
                };
                Ok(self.store.cancel(&req).await?.is_ok())
            }
        }
    }
}

fn site_address(site: usize) -> Result<(SiteIdentifier, String), AdminError> {
    let url = format!("https://{}-{site}.example", WORDS[site % WORDS.len()]);
    let identifier =
        SiteIdentifier::from_url(&url).map_err(|e| AdminError::Invalid(e.to_string()))?;
    Ok((identifier, url))
}

/// A key, weighted by its partner's share and its own.
fn pick_key(rng: &mut StdRng, keys: &[MadeKey]) -> usize {
    let total: f64 = keys.iter().map(|k| k.weight).sum();
    let mut x = rng.random::<f64>() * total;
    for (i, k) in keys.iter().enumerate() {
        x -= k.weight;
        if x <= 0.0 {
            return i;
        }
    }
    keys.len().saturating_sub(1)
}
