//! The HTTP-stack floor of `jpstart-bench`: a route with no authentication
//! and no storage, served only with `serve --bench-routes`. It sits in the
//! same router, inside the same conventions and trace layers as the partner
//! endpoints, so that the benchmark's ratio "endpoint / hello" measures what
//! the endpoint itself costs, not the HTTP stack.

use axum::Json;
use serde::Serialize;

/// Where the floor route is mounted (outside `/rest`, never versioned).
pub const HELLO_PATH: &str = "/bench/hello";

/// The tiny body the floor route answers.
#[derive(Debug, Serialize)]
pub struct Hello {
    pub hello: &'static str,
}

/// `GET /bench/hello`.
pub async fn hello() -> Json<Hello> {
    Json(Hello { hello: "world" })
}
