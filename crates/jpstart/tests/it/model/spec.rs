//! The model of the property test: its own copy of the catalogue table
//! (SPEC §4) and of the provision, cancel, grant, status and limit rules
//! (SPEC §5, §11), written from the SPEC, independently of the server's
//! `domain::rules` and `domain::limits`.

use serde_json::{json, Value};

// --- The catalogue, as SPEC §4 tabulates it ---

pub const PLANS: &str = "jetpack-plans";
/// (slug, family, tier).
pub const PRODUCTS: [(&str, &str, u8); 8] = [
    ("free", PLANS, 0),
    ("personal", PLANS, 1),
    ("premium", PLANS, 2),
    ("professional", PLANS, 3),
    ("jetpack-backup-daily", "jetpack-backup", 0),
    ("jetpack-backup-realtime", "jetpack-backup", 1),
    ("jetpack-scan", "jetpack-scan", 0),
    ("jetpack-anti-spam", "jetpack-anti-spam", 0),
];
/// In the order the upstream upgrade-paths example lists them.
pub const FAMILIES: [&str; 4] = ["jetpack-backup", PLANS, "jetpack-scan", "jetpack-anti-spam"];

pub fn includes(slug: &str) -> &'static [&'static str] {
    match slug {
        "personal" => &["jetpack-backup-daily", "jetpack-anti-spam"],
        "premium" => &["jetpack-backup-daily", "jetpack-scan", "jetpack-anti-spam"],
        "professional" => &[
            "jetpack-backup-realtime",
            "jetpack-scan",
            "jetpack-anti-spam",
        ],
        _ => &[],
    }
}

pub fn product(slug: &str) -> (&'static str, &'static str, u8) {
    *PRODUCTS
        .iter()
        .find(|p| p.0 == slug)
        .expect("slug of the table")
}

// --- The world: sites, keys, partners ---

pub const SITES: usize = 3;
/// Keys 0, 2 and 3 belong to one partner, keys 1 and 4 to another; key 3
/// is a sub-key of key 0 (limited), key 4 of key 1 (unlimited).
pub const KEYS: usize = 5;
pub const PARTNER_OF: [usize; KEYS] = [0, 1, 0, 0, 1];
pub const PARENT_OF: [Option<usize>; KEYS] = [None, None, None, Some(0), Some(1)];
/// The limits each key is created with (the operator's for key 0, the
/// `partner-keys/new` ones for the sub-keys, each within its parent's). A
/// product absent here is unlimited for a partner's own key and 0 for a
/// sub-key.
pub const LIMITS: [&[(&str, u32)]; KEYS] = [
    &[
        ("premium", 2),
        ("personal", 1),
        ("jetpack-scan", 1),
        ("jetpack-backup-daily", 1),
        ("jetpack-anti-spam", 1),
    ],
    &[],
    &[],
    &[
        ("premium", 2),
        ("personal", 1),
        ("jetpack-scan", 1),
        ("jetpack-backup-daily", 1),
        ("jetpack-anti-spam", 1),
        ("jetpack-backup-realtime", 3),
    ],
    &[
        ("premium", 1),
        ("professional", 1),
        ("jetpack-backup-realtime", 1),
    ],
];

/// The limit that applies to `key` for `slug` (`None`: unlimited).
pub fn limit(key: usize, slug: &str) -> Option<u32> {
    let stored = LIMITS[key]
        .iter()
        .find(|(s, _)| *s == slug)
        .map(|(_, n)| *n);
    match (stored, PARENT_OF[key]) {
        (Some(n), _) => Some(n),
        (None, Some(_)) => Some(0),
        (None, None) => None,
    }
}

/// The keys whose activations count against `key`'s limit: itself, and
/// for a partner's own key its sub-keys too.
pub fn budget_of(key: usize) -> Vec<usize> {
    (0..KEYS)
        .filter(|k| *k == key || (PARENT_OF[key].is_none() && PARENT_OF[*k] == Some(key)))
        .collect()
}

/// Whether activation owner `key` belongs to the calling key's partner.
pub fn same_partner(key: Option<usize>, caller: usize) -> bool {
    key.is_some_and(|k| PARTNER_OF[k] == PARTNER_OF[caller])
}
#[derive(Debug, Clone)]
pub enum Target {
    /// No `plan`: the plans family.
    Plans,
    Product(usize),
    All,
}

// --- The model ---

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Active,
    Cancelled,
    Superseded,
}

impl State {
    pub fn live(self) -> bool {
        matches!(self, State::Pending | State::Active)
    }

    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Active => "active",
            State::Cancelled => "cancelled",
            State::Superseded => "superseded",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Act {
    pub site: usize,
    pub product: &'static str,
    /// `None`: granted by the operator.
    pub key: Option<usize>,
    pub state: State,
}

#[derive(Debug, Clone, Default)]
pub struct SiteModel {
    /// Registered (by a provision or a grant).
    pub known: bool,
    /// Learnt from a provision response.
    pub blog_id: Option<u64>,
    pub connected: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Model {
    pub sites: [SiteModel; SITES],
    /// Every activation ever created, in creation (= id) order.
    pub acts: Vec<Act>,
}

/// What the server must answer.
#[derive(Debug, PartialEq)]
pub enum Expect {
    Provisioned {
        auth_required: bool,
    },
    Error(u16, &'static str),
    Cancelled {
        success: bool,
        active: Vec<String>,
        pending: Vec<String>,
    },
}

impl Model {
    pub fn live(&self, site: usize) -> impl Iterator<Item = (usize, &Act)> {
        self.acts
            .iter()
            .enumerate()
            .filter(move |(_, a)| a.site == site && a.state.live())
    }

    /// SPEC §5 provision rules, in the SPEC's order. A refusal changes
    /// nothing (not even `force_connect`).
    pub fn provision(
        &mut self,
        key: usize,
        site: usize,
        slug: &'static str,
        force_connect: bool,
    ) -> Expect {
        let (_, family, tier) = product(slug);
        let live: Vec<(usize, Act)> = self.live(site).map(|(i, a)| (i, a.clone())).collect();
        // SPEC §11, the holder rule: force_connect only by a partner that
        // holds a live activation on the site, or while no other does.
        let holders: Vec<usize> = live
            .iter()
            .filter_map(|(_, a)| a.key.map(|k| PARTNER_OF[k]))
            .collect();
        if force_connect && !holders.is_empty() && !holders.contains(&PARTNER_OF[key]) {
            return Expect::Error(403, "forbidden");
        }
        // None: already live from this key; Some(x): create, superseding x.
        let create: Option<Option<usize>> = match live.iter().find(|(_, a)| a.product == slug) {
            Some((_, same)) if same.key == Some(key) => None,
            Some(_) => return Expect::Error(400, "product_owned_by_another_partner"),
            None => {
                let same_family = live.iter().find(|(_, a)| product(a.product).1 == family);
                if same_family.is_some_and(|(_, a)| product(a.product).2 > tier) {
                    return Expect::Error(400, "plan_downgrade_disallowed");
                }
                let included = live.iter().any(|(_, a)| {
                    product(a.product).1 != family
                        && includes(a.product).iter().any(|inc| {
                            let (_, f, t) = product(inc);
                            f == family && t >= tier
                        })
                });
                if included {
                    return Expect::Error(400, "product_already_included");
                }
                match same_family {
                    // A lower tier of another key's: not ours to upgrade.
                    Some((_, a)) if a.key != Some(key) => {
                        return Expect::Error(400, "product_owned_by_another_partner")
                    }
                    Some((i, _)) => Some(Some(*i)),
                    None => Some(None),
                }
            }
        };
        if create.is_some() && !self.has_room(key, slug) {
            return Expect::Error(400, "activation_limit_reached");
        }
        self.sites[site].known = true;
        if force_connect {
            self.sites[site].connected = false;
        }
        if let Some(supersede) = create {
            if let Some(i) = supersede {
                self.acts[i].state = State::Superseded;
            }
            let state = if self.sites[site].connected {
                State::Active
            } else {
                State::Pending
            };
            self.acts.push(Act {
                site,
                product: slug,
                key: Some(key),
                state,
            });
        }
        Expect::Provisioned {
            auth_required: !self.sites[site].connected,
        }
    }

    /// SPEC §11: the key's own limit, and its parent's counting the
    /// parent's and all its sub-keys' live activations, both leave room.
    fn has_room(&self, key: usize, slug: &str) -> bool {
        let fits = |k: usize| {
            limit(k, slug).is_none_or(|max| {
                let keys = budget_of(k);
                let live = self
                    .acts
                    .iter()
                    .filter(|a| a.state.live() && a.product == slug)
                    .filter(|a| a.key.is_some_and(|o| keys.contains(&o)))
                    .count();
                live < max as usize
            })
        };
        fits(key) && PARENT_OF[key].is_none_or(fits)
    }

    pub fn upgrade_target(&self, site: usize, family: &str) -> &'static str {
        let mut in_family: Vec<_> = PRODUCTS.iter().filter(|p| p.1 == family).collect();
        in_family.sort_by_key(|p| p.2);
        let current = self
            .live(site)
            .find(|(_, a)| product(a.product).1 == family);
        let next = match current {
            Some((_, a)) => in_family.iter().find(|p| p.2 > product(a.product).2),
            None => in_family.iter().find(|p| p.2 > 0).or(in_family.first()),
        };
        next.or(in_family.last()).expect("families are not empty").0
    }

    pub fn cancel(&mut self, key: usize, site: usize, target: &Target) -> Expect {
        let nothing = Expect::Cancelled {
            success: false,
            active: vec![],
            pending: vec![],
        };
        let found: Vec<usize> = match target {
            // Only the caller's: never the operator's, never another key's.
            Target::All => self
                .live(site)
                .filter(|(_, a)| a.key == Some(key))
                .map(|(i, _)| i)
                .collect(),
            Target::Plans | Target::Product(_) => {
                let hit = self.live(site).find(|(_, a)| match target {
                    Target::Product(p) => a.product == PRODUCTS[*p].0,
                    _ => product(a.product).1 == PLANS,
                });
                match hit {
                    None => vec![],
                    Some((_, a)) if a.key.is_none() => return Expect::Error(400, "not_jps_plan"),
                    Some((_, a)) if a.key != Some(key) => {
                        return Expect::Error(403, "incorrect_partner_key")
                    }
                    Some((i, _)) => vec![i],
                }
            }
        };
        if found.is_empty() {
            return nothing;
        }
        let (mut active, mut pending) = (vec![], vec![]);
        for i in found {
            let a = &mut self.acts[i];
            match a.state {
                State::Active => active.push(a.product.to_string()),
                _ => pending.push(a.product.to_string()),
            }
            a.state = State::Cancelled;
        }
        if matches!(target, Target::All) {
            Expect::Cancelled {
                success: true,
                active,
                pending,
            }
        } else {
            Expect::Cancelled {
                success: true,
                active: vec![],
                pending: vec![],
            }
        }
    }

    /// The operator's grant: refused when the family is live, else active.
    pub fn grant(&mut self, site: usize, slug: &'static str) -> bool {
        let family = product(slug).1;
        if self.live(site).any(|(_, a)| product(a.product).1 == family) {
            return false;
        }
        self.sites[site].known = true;
        self.acts.push(Act {
            site,
            product: slug,
            key: None,
            state: State::Active,
        });
        true
    }

    /// Per family, the slugs a provision by `caller` would create now.
    pub fn upgrade_paths(&self, site: usize, caller: usize) -> Value {
        let mut map = serde_json::Map::new();
        for family in FAMILIES {
            let slugs: Vec<&str> = PRODUCTS
                .iter()
                .filter(|p| p.1 == family && p.0 != "free")
                .filter(|p| {
                    let mut trial = self.clone();
                    trial.provision(caller, site, p.0, false);
                    trial.acts.len() > self.acts.len()
                })
                .map(|p| p.0)
                .collect();
            map.insert(family.to_string(), json!(slugs));
        }
        Value::Object(map)
    }

    pub fn connect(&mut self, site: usize) {
        self.sites[site].connected = true;
        for a in self
            .acts
            .iter_mut()
            .filter(|a| a.site == site && a.state == State::Pending)
        {
            a.state = State::Active;
        }
    }

    pub fn status_v14(&self, site: usize, caller: usize) -> Value {
        let products: Vec<Value> = self
            .live(site)
            .map(|(_, a)| {
                json!({
                    "slug": a.product,
                    "is_provisioned_by_partner": a.key.is_some(),
                    "is_provisioned_by_calling_partner": same_partner(a.key, caller),
                    "is_pending": a.state == State::Pending,
                })
            })
            .collect();
        json!({
            "blog": {"is_connected": self.sites[site].connected, "has_backups_credentials": false},
            "products": products,
        })
    }

    pub fn status_v13(&self, site: usize, caller: usize) -> Value {
        let plan = self
            .live(site)
            .find(|(_, a)| product(a.product).1 == PLANS)
            .map(|(_, a)| a);
        let products: Vec<Value> = self
            .live(site)
            .filter(|(_, a)| product(a.product).1 != PLANS)
            .map(|(_, a)| {
                json!({
                    "product": a.product,
                    "is_partner_product": a.key.is_some(),
                    "has_pending_product": a.state == State::Pending,
                    "is_provisioned_by_calling_partner": same_partner(a.key, caller),
                })
            })
            .collect();
        json!({
            "plan": plan.map_or("", |a| a.product),
            "is_partner_plan": plan.is_some_and(|a| a.key.is_some()),
            "is_provisioned_by_calling_partner": plan.is_some_and(|a| same_partner(a.key, caller)),
            "is_connected": self.sites[site].connected,
            "has_pending_plan": plan.is_some_and(|a| a.state == State::Pending),
            "has_backups_credentials": false,
            "products": products,
        })
    }
}
