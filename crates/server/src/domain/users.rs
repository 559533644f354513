//! WordPress.com accounts and the mail sent to them: the rules, no I/O.
//!
//! Upstream: host-partner-documentation `users/user-creation.md`,
//! `jetpack/automatic-account-creation-connection.md` and
//! `jetpack/jetpack-start-endpoints/mobile-magic-link.md`.

use std::fmt;

use jpstart_types::PartnerId;

use super::holder::{may_change_site, SiteChange};
use super::lifecycle::Transition;
use super::rules::LiveActivation;
use super::ActivationState;
use crate::clock::Timestamp;

/// The longest address accepted (RFC 5321's limit on a forward path).
const MAX_EMAIL: usize = 254;
/// WordPress.com usernames: lowercase letters and digits, 4 to 60 of them.
const MIN_USERNAME: usize = 4;
const MAX_USERNAME: usize = 50;

/// An e-mail address as given, checked for the shape of one. Accounts are
/// unique by [`Email::key`], the address lowercased.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// `local@domain`: one `@`, both sides non-empty, a dot in the domain,
    /// no white space or control characters, at most 254 bytes. Surrounding
    /// white space is trimmed (shell clients send it).
    pub fn parse(s: &str) -> Result<Email, &'static str> {
        let s = s.trim();
        if s.len() > MAX_EMAIL {
            return Err("it is longer than 254 characters");
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("it contains white space");
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err("it has no @");
        };
        if local.is_empty() || domain.contains('@') {
            return Err("it is not local@domain");
        }
        let labels_ok = domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        if !domain.contains('.') || !labels_ok {
            return Err("its domain is not a host name");
        }
        Ok(Email(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address lowercased: what makes two addresses one account.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({:?})", self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What `product_type` (or `product_id`) of `POST /jpphp/user` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProductType {
    Jetpack,
    Woocommerce,
}

impl ProductType {
    /// `jetpack` or `woocommerce`, any case.
    pub fn parse(s: &str) -> Option<ProductType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "jetpack" => Some(ProductType::Jetpack),
            "woocommerce" => Some(ProductType::Woocommerce),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProductType::Jetpack => "jetpack",
            ProductType::Woocommerce => "woocommerce",
        }
    }
}

/// The `language` of a new account as stored: an ISO 639 code such as `en`,
/// `pt-br` or `zh-tw`, lowercased. Anything else is dropped (upstream uses
/// it only to translate the verification e-mail).
pub fn language(s: &str) -> Option<String> {
    let s = s.trim().to_ascii_lowercase();
    let ok = (2..=8).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && !s.starts_with('-');
    ok.then_some(s)
}

/// The username an address suggests: its local part with everything but
/// letters and digits dropped, lowercased, padded to four characters and
/// cut to fifty (upstream: "an automatically generated username based off
/// of the email address").
pub fn username_base(email: &Email) -> String {
    let mut name: String = email
        .local_part()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(MAX_USERNAME)
        .collect();
    if name.is_empty() {
        name.push_str("user");
    }
    while name.len() < MIN_USERNAME {
        name.push('0');
    }
    name
}

/// The `n`-th candidate for a username (0: the base itself, then `base2`,
/// `base3`, ...), still at most fifty characters.
pub fn username_candidate(base: &str, n: u32) -> String {
    if n == 0 {
        return base.to_string();
    }
    let suffix = (n + 1).to_string();
    let keep = MAX_USERNAME.saturating_sub(suffix.len()).min(base.len());
    format!("{}{suffix}", &base[..keep])
}

/// Automatic account creation's rule for the site: it connects the site, so
/// it is the holder rule of SPEC §11 ([`may_change_site`], the one rule of
/// every change to a site): the partner must hold a live activation there,
/// or no other partner may hold one (an operator's grant belongs to no
/// partner). Connecting it then activates the partner's own pending
/// activations there, and only those. `None`: another partner holds the
/// site, nothing is done.
pub fn decide_auto_account(
    partner: PartnerId,
    live: &[LiveActivation],
    now: Timestamp,
) -> Option<Vec<Transition>> {
    may_change_site(live, partner, SiteChange::Connection).ok()?;
    Some(
        live.iter()
            .filter(|a| a.is_pending() && a.partner_id == Some(partner))
            .map(|a| Transition {
                id: a.id,
                from: ActivationState::Pending,
                to: ActivationState::Active,
                at: now,
            })
            .collect(),
    )
}

/// A message to put in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub kind: &'static str,
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// The subject of the magic-link e-mail.
pub const MAGIC_LINK_SUBJECT: &str = "Log in to the WordPress app";

/// Where the app can be installed from (the e-mail's first step).
const APP_URL: &str = "https://apps.wordpress.com/mobile/";

/// The WordPress app's login-link e-mail (the upstream page shows it: a link
/// to get the app, then one to log in, valid once and for an hour). The link
/// is the app's `wordpress://magic-login` deep link with a one-time token.
pub fn magic_link_mail(to: &Email, token: &str) -> Mail {
    let link = magic_link_url(token);
    let body = format!(
        "Howdy!\r\n\r\n\
         You asked for a link to log in to the WordPress mobile app. Open this\r\n\
         e-mail on your phone or tablet.\r\n\r\n\
         1. No WordPress app yet? Get it here:\r\n   {APP_URL}\r\n\r\n\
         2. Then tap this link to log in:\r\n   {link}\r\n\r\n\
         The link works once, and only for the next hour.\r\n"
    );
    Mail {
        kind: "magic_link",
        to: to.as_str().to_string(),
        subject: MAGIC_LINK_SUBJECT.to_string(),
        body,
    }
}

/// The login link of a magic-link e-mail.
pub fn magic_link_url(token: &str) -> String {
    format!("wordpress://magic-login?token={token}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@example.com",
            " Jane.Doe+tag@Example.COM ",
            "x@sub.example.co.uk",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "jane",
            "@example.com",
            "jane@",
            "jane@localhost",
            "a@b@example.com",
            "jane doe@example.com",
            "jane@-example.com",
            "jane@example..com",
            "jane@exa\nmple.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
        let e = Email::parse(" Jane.Doe@Example.COM").unwrap();
        assert_eq!(e.as_str(), "Jane.Doe@Example.COM");
        assert_eq!(e.key(), "jane.doe@example.com");
    }

    #[test]
    fn usernames() {
        let u = |s: &str| username_base(&Email::parse(s).unwrap());
        assert_eq!(u("Jane.Doe+tag@example.com"), "janedoetag");
        assert_eq!(u("al@example.com"), "al00");
        assert_eq!(u("+++@example.com"), "user");
        assert_eq!(u(&format!("{}@example.com", "b".repeat(80))).len(), 50);
        assert_eq!(username_candidate("jane", 0), "jane");
        assert_eq!(username_candidate("jane", 1), "jane2");
        let long = "c".repeat(50);
        let c = username_candidate(&long, 11);
        assert_eq!(c.len(), 50);
        assert!(c.ends_with("12"));
    }

    #[test]
    fn product_types_and_languages() {
        assert_eq!(ProductType::parse("jetpack"), Some(ProductType::Jetpack));
        assert_eq!(
            ProductType::parse(" WooCommerce"),
            Some(ProductType::Woocommerce)
        );
        assert_eq!(ProductType::parse("premium"), None);
        assert_eq!(language("pt-BR"), Some("pt-br".into()));
        assert_eq!(language("en"), Some("en".into()));
        assert_eq!(language("e"), None);
        assert_eq!(language("<script>"), None);
    }

    #[test]
    fn automatic_account_creation_needs_a_site_no_other_partner_holds() {
        use jpstart_types::{ActivationId, KeyId, ProductSlug};
        let live = |id: i64, partner: Option<i64>, state| LiveActivation {
            id: ActivationId::new(id),
            product: ProductSlug::parse("premium").unwrap(),
            family: "jetpack-plans".into(),
            key_id: partner.map(KeyId::new),
            partner_id: partner.map(PartnerId::new),
            state,
            created_at: Timestamp::EPOCH,
            partner_tracking_id: None,
        };
        let me = PartnerId::new(1);
        let now = Timestamp::from_millis(5);
        let mine = [
            live(1, Some(1), ActivationState::Pending),
            live(2, Some(1), ActivationState::Active),
            live(3, None, ActivationState::Pending),
        ];
        let t = decide_auto_account(me, &mine, now).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(
            (t[0].id, t[0].to, t[0].at),
            (ActivationId::new(1), ActivationState::Active, now)
        );
        let held = [live(4, Some(2), ActivationState::Active)];
        assert!(decide_auto_account(me, &held, now).is_none());
        // Holding one is enough, whoever else holds others (the holder rule);
        // only the partner's own pending activation becomes active.
        let shared = [
            live(4, Some(2), ActivationState::Pending),
            live(5, Some(1), ActivationState::Pending),
        ];
        let t = decide_auto_account(me, &shared, now).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].id, ActivationId::new(5));
        assert_eq!(decide_auto_account(me, &[], now), Some(Vec::new()));
    }

    #[test]
    fn the_magic_link_mail() {
        let to = Email::parse("jane@example.com").unwrap();
        let m = magic_link_mail(&to, "Tok3n");
        assert_eq!(m.to, "jane@example.com");
        assert_eq!(m.subject, MAGIC_LINK_SUBJECT);
        assert!(m.body.contains("wordpress://magic-login?token=Tok3n"));
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_usernames_are_well_formed(s in "\\PC{0,80}") {
            if let Ok(e) = Email::parse(&s) {
                let name = username_base(&e);
                proptest::prop_assert!((4..=50).contains(&name.len()));
                proptest::prop_assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
            }
            let _ = language(&s);
            let _ = ProductType::parse(&s);
        }
    }
}
