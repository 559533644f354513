//! The domain: product catalogue, the rules of every unit of work, and the
//! error catalogue. No I/O here: the store loads a context under its locks,
//! a function here returns a plan of effects or a refusal, and the store
//! applies the plan in the same transaction. Refusals map to catalogued
//! API errors in [`refusal`] only.

pub mod bounds;
pub mod calendar;
pub mod catalogue;
pub mod credentials;
pub mod errors;
pub mod holder;
pub mod invoices;
pub mod lifecycle;
pub mod limits;
pub mod partner_users;
pub mod provision;
pub mod refusal;
pub mod rules;
pub mod sandbox;
pub mod state;
pub mod summary;
pub mod users;
pub mod webhooks;

pub use catalogue::{Catalogue, ResolvedProduct};
pub use errors::{ApiError, ErrorCode};
pub use refusal::{
    AccountRefusal, CancelRefusal, CredentialsRefusal, GrantRefusal, LinkRefusal, NotHolder,
    ProvisionRefusal, SubKeyRefusal,
};
pub use state::{ActivationState, Actor};
