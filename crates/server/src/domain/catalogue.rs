//! The product catalogue: families, tiers and inclusions, as data.
//!
//! The built-in catalogue is `catalog/default.json` (SPEC §4); an operator
//! may replace it with `jpstart serve --catalog FILE` in the same format.
//! Loading validates it and refuses to start on an unknown family, a
//! duplicate slug or tier, an inclusion of an unknown product or of the
//! product's own family, or a cycle of inclusions.
//!
//! Each product also has a numeric `id` (the `product_id` of the reporting
//! endpoints; by default the position in catalogue order, from 1), a
//! monthly `price` in cents (default 0) and a `currency` (ISO 4217, stored
//! lowercase as Stripe writes it; default `usd`) — one currency for the
//! whole catalogue, so that an invoice has one (SPEC §8).

use std::collections::{HashMap, HashSet};

use jpstart_types::ProductSlug;
use serde::Deserialize;

const DEFAULT: &str = include_str!("../../catalog/default.json");

/// Why a catalogue file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogueError {
    #[error("the catalogue is not valid JSON of the expected shape: {0}")]
    Format(String),
    #[error("product {product:?} names unknown family {family:?}")]
    UnknownFamily { product: String, family: String },
    #[error("family {0:?} is listed twice")]
    DuplicateFamily(String),
    #[error("product slug {0:?} is listed twice")]
    DuplicateSlug(String),
    #[error("{0}")]
    BadSlug(String),
    #[error("products {a:?} and {b:?} share tier {tier} in family {family:?}")]
    DuplicateTier {
        family: String,
        tier: u32,
        a: String,
        b: String,
    },
    #[error("product {product:?} includes unknown product {included:?}")]
    UnknownInclude { product: String, included: String },
    #[error("product {product:?} includes {included:?} of its own family")]
    IncludesOwnFamily { product: String, included: String },
    #[error("inclusions form a cycle: {0}")]
    Cycle(String),
    #[error("the plans family {0:?} is not a listed family")]
    UnknownPlansFamily(String),
    #[error("family {0:?} has no products")]
    EmptyFamily(String),
    #[error("product id {0} is listed twice")]
    DuplicateProductId(u64),
    #[error("product {product:?}: {reason}")]
    BadPrice { product: String, reason: String },
    #[error("products {a:?} and {b:?} have different currencies (a catalogue has one)")]
    MixedCurrencies { a: String, b: String },
}

/// The most a monthly price may be, in cents: far above any product's,
/// and small enough that quantity × price never overflows.
pub const MAX_PRICE: u64 = 100_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    plans_family: String,
    families: Vec<String>,
    products: Vec<FileProduct>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProduct {
    slug: String,
    family: String,
    tier: u32,
    #[serde(default)]
    includes: Vec<String>,
    #[serde(default)]
    baseline: bool,
    /// Numeric product id; default: position in catalogue order, from 1.
    #[serde(default)]
    id: Option<u64>,
    /// Monthly price in cents; default 0.
    #[serde(default)]
    price: u64,
    /// ISO 4217 code; default `usd`.
    #[serde(default)]
    currency: Option<String>,
}

/// A product of the catalogue.
#[derive(Debug, Clone)]
pub struct Product {
    pub slug: ProductSlug,
    /// Index into [`Catalogue::families`].
    pub family: usize,
    pub tier: u32,
    /// Indexes into [`Catalogue::products`].
    pub includes: Vec<usize>,
    /// The implicit base of its family (`free`): never offered as an upgrade.
    pub baseline: bool,
    /// The numeric id of the reporting endpoints (`product_id`).
    pub id: u64,
    /// Monthly price in cents, in [`Catalogue::currency`].
    pub price: u64,
}

/// A validated catalogue. Products are kept in family order, then tier order.
#[derive(Debug, Clone)]
pub struct Catalogue {
    families: Vec<String>,
    products: Vec<Product>,
    by_slug: HashMap<ProductSlug, usize>,
    plans_family: usize,
    currency: String,
}

impl Catalogue {
    /// The built-in catalogue of SPEC §4.
    pub fn builtin() -> Self {
        #[allow(clippy::expect_used)] // the file ships with the binary and is tested below
        Catalogue::from_json(DEFAULT).expect("the built-in catalogue is valid")
    }

    pub fn from_json(text: &str) -> Result<Self, CatalogueError> {
        let file: File =
            serde_json::from_str(text).map_err(|e| CatalogueError::Format(e.to_string()))?;
        let families = unique_families(&file.families)?;
        let plans_family = families
            .iter()
            .position(|f| *f == file.plans_family)
            .ok_or_else(|| CatalogueError::UnknownPlansFamily(file.plans_family.clone()))?;

        // Order by family, then tier, so that iteration is catalogue order.
        let mut raw = Vec::new();
        let mut seen = HashSet::new();
        for p in &file.products {
            let slug =
                ProductSlug::parse(&p.slug).map_err(|e| CatalogueError::BadSlug(e.to_string()))?;
            if !seen.insert(slug.clone()) {
                return Err(CatalogueError::DuplicateSlug(p.slug.clone()));
            }
            let family = families
                .iter()
                .position(|f| *f == p.family)
                .ok_or_else(|| CatalogueError::UnknownFamily {
                    product: p.slug.clone(),
                    family: p.family.clone(),
                })?;
            raw.push((family, p.tier, slug, p));
        }
        raw.sort_by_key(|(family, tier, _, _)| (*family, *tier));
        for pair in raw.windows(2) {
            if pair[0].0 == pair[1].0 && pair[0].1 == pair[1].1 {
                return Err(CatalogueError::DuplicateTier {
                    family: families[pair[0].0].clone(),
                    tier: pair[0].1,
                    a: pair[0].2.to_string(),
                    b: pair[1].2.to_string(),
                });
            }
        }
        for (i, f) in families.iter().enumerate() {
            if !raw.iter().any(|(family, ..)| *family == i) {
                return Err(CatalogueError::EmptyFamily(f.clone()));
            }
        }
        let by_slug: HashMap<ProductSlug, usize> = raw
            .iter()
            .enumerate()
            .map(|(i, (_, _, slug, _))| (slug.clone(), i))
            .collect();
        let products = link_products(&raw, &by_slug)?;
        let currency = prices::check(&raw, &products)?;
        let cat = Catalogue {
            families,
            products,
            by_slug,
            plans_family,
            currency,
        };
        cat.check_cycles()?;
        Ok(cat)
    }

    fn check_cycles(&self) -> Result<(), CatalogueError> {
        // Depth-first search with colours over the inclusion graph.
        fn visit(
            cat: &Catalogue,
            i: usize,
            state: &mut [u8],
            path: &mut Vec<usize>,
        ) -> Result<(), CatalogueError> {
            match state[i] {
                2 => return Ok(()),
                1 => {
                    let start = path.iter().position(|&p| p == i).unwrap_or(0);
                    let names: Vec<_> = path[start..]
                        .iter()
                        .chain([&i])
                        .map(|&p| cat.products[p].slug.to_string())
                        .collect();
                    return Err(CatalogueError::Cycle(names.join(" -> ")));
                }
                _ => {}
            }
            state[i] = 1;
            path.push(i);
            for &j in &cat.products[i].includes {
                visit(cat, j, state, path)?;
            }
            path.pop();
            state[i] = 2;
            Ok(())
        }
        let mut state = vec![0u8; self.products.len()];
        for i in 0..self.products.len() {
            visit(self, i, &mut state, &mut Vec::new())?;
        }
        Ok(())
    }

    pub fn product(&self, slug: &ProductSlug) -> Option<&Product> {
        self.by_slug.get(slug).map(|&i| &self.products[i])
    }

    /// Looks a slug up from request text; `None` for an unknown or malformed one.
    pub fn find(&self, slug: &str) -> Option<&Product> {
        ProductSlug::parse(slug).ok().and_then(|s| self.product(&s))
    }

    pub fn products(&self) -> &[Product] {
        &self.products
    }

    pub fn families(&self) -> &[String] {
        &self.families
    }

    pub fn family_name(&self, product: &Product) -> &str {
        &self.families[product.family]
    }

    pub fn plans_family(&self) -> usize {
        self.plans_family
    }

    /// Products included by `product`, directly or through what it includes.
    pub fn included(&self, product: &Product) -> Vec<&Product> {
        let mut out: Vec<&Product> = Vec::new();
        let mut stack: Vec<usize> = product.includes.clone();
        while let Some(i) = stack.pop() {
            let p = &self.products[i];
            if !out.iter().any(|q| q.slug == p.slug) {
                out.push(p);
                stack.extend(p.includes.iter().copied());
            }
        }
        out
    }

    /// The product a request names, with everything the rules need to know
    /// about it from the catalogue (plan resolution, done once at the edge:
    /// the store and the rules never read the catalogue). `None`: not a
    /// product of the catalogue.
    pub fn resolve(&self, slug: &ProductSlug) -> Option<ResolvedProduct> {
        let product = self.product(slug)?;
        let family_tiers = self
            .products
            .iter()
            .filter(|p| p.family == product.family)
            .map(|p| (p.slug.clone(), p.tier))
            .collect();
        let covered_by = self
            .products
            .iter()
            .filter(|holder| holder.family != product.family)
            .filter(|holder| {
                self.included(holder)
                    .iter()
                    .any(|inc| inc.family == product.family && inc.tier >= product.tier)
            })
            .map(|holder| holder.slug.clone())
            .collect();
        Some(ResolvedProduct {
            slug: product.slug.clone(),
            family: self.family_name(product).to_string(),
            tier: product.tier,
            family_tiers,
            covered_by,
        })
    }

    /// The one currency of every price (lowercase ISO 4217).
    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// The slugs of the plans family (what a cancel without `plan` names).
    pub fn plans_slugs(&self) -> Vec<ProductSlug> {
        self.products
            .iter()
            .filter(|p| p.family == self.plans_family)
            .map(|p| p.slug.clone())
            .collect()
    }
}

fn unique_families(names: &[String]) -> Result<Vec<String>, CatalogueError> {
    let mut families = Vec::new();
    for f in names {
        if families.contains(f) {
            return Err(CatalogueError::DuplicateFamily(f.clone()));
        }
        families.push(f.clone());
    }
    Ok(families)
}

/// A product of the file with its family index, tier and parsed slug, in
/// catalogue order.
type RawProduct<'a> = (usize, u32, ProductSlug, &'a FileProduct);

/// The products with their inclusions resolved to indexes.
fn link_products(
    raw: &[RawProduct<'_>],
    by_slug: &HashMap<ProductSlug, usize>,
) -> Result<Vec<Product>, CatalogueError> {
    let mut products = Vec::new();
    for (position, (family, tier, slug, p)) in raw.iter().enumerate() {
        let mut includes = Vec::new();
        for inc in &p.includes {
            let idx = ProductSlug::parse(inc)
                .ok()
                .and_then(|s| by_slug.get(&s).copied())
                .ok_or_else(|| CatalogueError::UnknownInclude {
                    product: p.slug.clone(),
                    included: inc.clone(),
                })?;
            if raw[idx].0 == *family {
                return Err(CatalogueError::IncludesOwnFamily {
                    product: p.slug.clone(),
                    included: inc.clone(),
                });
            }
            includes.push(idx);
        }
        products.push(Product {
            slug: slug.clone(),
            family: *family,
            tier: *tier,
            includes,
            baseline: p.baseline,
            id: p.id.unwrap_or(position as u64 + 1),
            price: p.price,
        });
    }
    Ok(products)
}

mod prices {
    use super::{CatalogueError, Product, RawProduct, MAX_PRICE};

    /// Checks ids, prices and currencies; returns the one currency.
    pub(super) fn check(
        raw: &[RawProduct<'_>],
        products: &[Product],
    ) -> Result<String, CatalogueError> {
        let mut ids = std::collections::HashSet::new();
        for p in products {
            if !ids.insert(p.id) {
                return Err(CatalogueError::DuplicateProductId(p.id));
            }
        }
        let mut currency: Option<(String, &str)> = None;
        for (_, _, _, p) in raw {
            if p.price > MAX_PRICE {
                return Err(CatalogueError::BadPrice {
                    product: p.slug.clone(),
                    reason: format!("price {} is above {MAX_PRICE} cents", p.price),
                });
            }
            let code = p.currency.as_deref().unwrap_or("usd");
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(CatalogueError::BadPrice {
                    product: p.slug.clone(),
                    reason: format!("currency {code:?} is not a three-letter ISO 4217 code"),
                });
            }
            let code = code.to_ascii_lowercase();
            match &currency {
                Some((c, first)) if *c != code => {
                    return Err(CatalogueError::MixedCurrencies {
                        a: first.to_string(),
                        b: p.slug.clone(),
                    })
                }
                Some(_) => {}
                None => currency = Some((code, &p.slug)),
            }
        }
        Ok(currency.map_or_else(|| "usd".to_string(), |(c, _)| c))
    }
}

/// A product as the rules see it, resolved from the catalogue by
/// [`Catalogue::resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedProduct {
    pub slug: ProductSlug,
    /// The family's name (also stored on each activation).
    pub family: String,
    pub tier: u32,
    /// Every product of the same family (this one included) with its tier.
    pub family_tiers: Vec<(ProductSlug, u32)>,
    /// Products of other families that include this one or a higher tier
    /// of its family, in catalogue order.
    pub covered_by: Vec<ProductSlug>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_matches_spec() {
        let c = Catalogue::builtin();
        let premium = c.find("premium").unwrap();
        assert_eq!(c.family_name(premium), "jetpack-plans");
        let inc: Vec<_> = c
            .included(premium)
            .iter()
            .map(|p| p.slug.to_string())
            .collect();
        for s in ["jetpack-backup-daily", "jetpack-scan", "jetpack-anti-spam"] {
            assert!(inc.contains(&s.to_string()), "{s}");
        }
        assert!(c.find("free").unwrap().baseline);
        assert!(c.find("gold").is_none());
        assert_eq!(c.products().len(), 8);
        assert_eq!(c.currency(), "usd");
        assert_eq!((premium.id, premium.price), (2000, 900));
        assert_eq!(c.find("free").unwrap().price, 0);
    }

    #[test]
    fn prices_and_ids() {
        let b = r#"{"slug":"b1","family":"b","tier":0}"#;
        let eur = r#"{"slug":"b1","family":"b","tier":0,"currency":"eur"}"#;
        let c = load(&format!(
            r#"{eur},{{"slug":"a","family":"p","tier":0,"price":123,"currency":"EUR"}}"#
        ))
        .unwrap();
        assert_eq!(c.currency(), "eur");
        // Ids default to the position in catalogue order (families as listed).
        assert_eq!(
            (c.find("a").unwrap().id, c.find("a").unwrap().price),
            (1, 123)
        );
        assert_eq!(
            (c.find("b1").unwrap().id, c.find("b1").unwrap().price),
            (2, 0)
        );
        assert!(matches!(
            load(&format!(
                r#"{b},{{"slug":"a","family":"p","tier":0,"currency":"EUR"}}"#
            )),
            Err(CatalogueError::MixedCurrencies { .. })
        ));
        assert!(matches!(
            load(&format!(
                r#"{b},{{"slug":"a","family":"p","tier":0,"currency":"dollars"}}"#
            )),
            Err(CatalogueError::BadPrice { .. })
        ));
        assert!(matches!(
            load(&format!(
                r#"{b},{{"slug":"a","family":"p","tier":0,"price":100000001}}"#
            )),
            Err(CatalogueError::BadPrice { .. })
        ));
        assert!(matches!(
            load(
                r#"{"slug":"b1","family":"b","tier":0,"id":5},{"slug":"a","family":"p","tier":0,"id":5}"#
            ),
            Err(CatalogueError::DuplicateProductId(5))
        ));
    }

    fn load(products: &str) -> Result<Catalogue, CatalogueError> {
        Catalogue::from_json(&format!(
            r#"{{"plans_family":"p","families":["p","b"],"products":[{products}]}}"#
        ))
    }

    #[test]
    fn refusals() {
        let b = r#"{"slug":"b1","family":"b","tier":0}"#;
        assert!(matches!(
            load(&format!(r#"{b},{{"slug":"x","family":"nope","tier":0}}"#)),
            Err(CatalogueError::UnknownFamily { .. })
        ));
        assert!(matches!(
            load(&format!(r#"{b},{b}"#)),
            Err(CatalogueError::DuplicateSlug(_))
        ));
        assert!(matches!(
            load(
                r#"{"slug":"a","family":"p","tier":0,"includes":["c"]},{"slug":"c","family":"b","tier":0,"includes":["a"]}"#
            ),
            Err(CatalogueError::Cycle(_))
        ));
        assert!(matches!(
            load(&format!(
                r#"{b},{{"slug":"a","family":"p","tier":0,"includes":["zzz"]}}"#
            )),
            Err(CatalogueError::UnknownInclude { .. })
        ));
        assert!(matches!(
            load(&format!(
                r#"{b},{{"slug":"a","family":"p","tier":0}},{{"slug":"a2","family":"p","tier":0}}"#
            )),
            Err(CatalogueError::DuplicateTier { .. })
        ));
        assert!(matches!(
            load(r#"{"slug":"a","family":"p","tier":0}"#),
            Err(CatalogueError::EmptyFamily(_))
        ));
        assert!(load(&format!(
            r#"{b},{{"slug":"a","family":"p","tier":0,"includes":["b1"]}}"#
        ))
        .is_ok());
    }
}
