//! The application, in two halves that do not import each other's callers:
//! [`state`] is what every handler can reach (it knows no endpoint), and
//! [`router`] composes the endpoints of [`crate::api`] inside the layers.
//! Endpoints import the state, the router imports the endpoints; nothing
//! imports the router but the listener ([`crate::serve`]).

pub mod router;
pub mod state;
