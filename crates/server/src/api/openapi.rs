//! `GET /openapi.json`: an OpenAPI 3.1 description of the whole API,
//! generated from the code.
//!
//! Each handler carries a `#[utoipa::path]` with its path, parameters, body
//! formats and success response; the wire types derive their schemas in
//! `jpstart_types` (feature `openapi`). The error responses are not written
//! by hand: [`Conventions`] adds them to every REST operation from the same
//! [`EndpointDoc`] the endpoint's `/help` serves, one response per status
//! whose `error` is an enum of the codes, so the document, the help pages and
//! the error catalogue cannot drift apart. It also adds each endpoint's
//! `/help` path and the bearer security scheme.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use jpstart_types::wire::ErrorBody;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::{Response as OaResponse, ResponseBuilder};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Required};
use utoipa::{Modify, OpenApi};

use super::{
    authorize, cancel, credentials, errors, keys, magic_link, provision, sites, status, users,
    Endpoint,
};
use crate::domain::ErrorCode;

/// Errors any REST operation can answer besides its own: the conventions
/// layer's (a body that cannot be read, or is too large) and a store fault.
const COMMON: &[ErrorCode] = &[
    ErrorCode::InvalidBody,
    ErrorCode::RequestTooLarge,
    ErrorCode::InternalError,
];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "jpstart",
        description = "The Jetpack Start partner provisioning API as served by jpstart, \
            wire-compatible with WordPress.com's. REST paths are shown at the version partners \
            call; every endpoint also answers later versions (`/rest/v{major.minor}/...`). \
            Any endpoint also takes `http_envelope`, `pretty` and `fields` query parameters \
            and answers OPTIONS; see docs/COMPATIBILITY.md.",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        crate::oauth::token,
        errors::errors,
        keys::verify,
        keys::new_key,
        provision::provision,
        provision::partner_provision,
        credentials::ssh_credentials,
        credentials::ftp_credentials,
        cancel::cancel,
        status::status,
        status::status_v13,
        status::upgrade_paths,
        users::create_user,
        magic_link::magic_link,
        sites::site,
        authorize::show,
        authorize::approve,
        openapi_json,
        crate::ops::healthz,
        crate::ops::readyz,
        crate::ops::metrics,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Conventions),
)]
struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(ApiDoc::openapi)
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses((status = 200, description = "This document.", content_type = "application/json")),
)]
pub async fn openapi_json() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(|| serde_json::to_string(document()).unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], text.as_str()).into_response()
}

/// `/rest/v1.3/jpphp/x` → `/rest/jpphp/x`: how the router writes a path.
pub fn unversioned(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/rest/v")?;
    let (_, tail) = rest.split_once('/')?;
    Some(format!("/rest/{tail}"))
}

struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // Every parameter may come in the query string instead, so no
        // body is required.
        for item in openapi.paths.paths.values_mut() {
            for op in operations(item) {
                if let Some(body) = op.request_body.as_mut() {
                    body.required = Some(Required::False);
                }
            }
        }
        let endpoints = super::endpoint_list();
        let mut helps = BTreeMap::new();
        for (path, item) in openapi.paths.paths.iter_mut() {
            let Some(endpoint) = unversioned(path).and_then(|p| find(&endpoints, &p)) else {
                continue;
            };
            let mut path_params = Vec::new();
            for op in operations(item) {
                add_errors(op, endpoint.doc.errors);
                for p in op.parameters.iter().flatten() {
                    if p.parameter_in == ParameterIn::Path && !path_params.contains(p) {
                        path_params.push(p.clone());
                    }
                }
            }
            helps.insert(format!("{path}/help"), help_item(endpoint, path_params));
        }
        openapi.paths.paths.extend(helps);
    }
}

fn find<'a>(endpoints: &'a [Endpoint], unversioned: &str) -> Option<&'a Endpoint> {
    endpoints
        .iter()
        .find(|e| format!("/rest{}", e.path) == unversioned)
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.post.as_mut(),
        item.put.as_mut(),
        item.delete.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// One response per status, listing the endpoint's codes of that status and
/// the common ones. A body-less operation cannot fail to parse its body, but
/// the query string is read the same way, so the common codes apply to all.
fn add_errors(op: &mut Operation, own: &[ErrorCode]) {
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for code in own.iter().chain(COMMON) {
        let codes = by_status.entry(code.status()).or_default();
        if !codes.contains(code) {
            codes.push(*code);
        }
    }
    for (status, codes) in by_status {
        op.responses
            .responses
            .insert(status.to_string(), error_response(&codes).into());
    }
}

/// The error body with `error` and `error_code` narrowed to `codes`.
fn error_response(codes: &[ErrorCode]) -> OaResponse {
    let names: Vec<&str> = codes.iter().map(|c| c.code()).collect();
    let narrowed = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names.clone()))
    };
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name("ErrorBody"))
        .item(
            ObjectBuilder::new()
                .property("error", narrowed())
                .property("error_code", narrowed()),
        );
    let description = codes
        .iter()
        .map(|c| format!("`{}`: {}", c.code(), c.template()))
        .collect::<Vec<_>>()
        .join("\n\n");
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(schema)))
        .build()
}

/// `GET {path}/help`: the endpoint's own documentation.
fn help_item(endpoint: &Endpoint, path_params: Vec<Parameter>) -> PathItem {
    let body = ObjectBuilder::new()
        .property("method", ObjectBuilder::new().schema_type(Type::String))
        .property("path", ObjectBuilder::new().schema_type(Type::String))
        .property(
            "description",
            ObjectBuilder::new().schema_type(Type::String),
        )
        .property("versions", ObjectBuilder::new().schema_type(Type::String))
        .property(
            "authentication",
            ObjectBuilder::new().schema_type(Type::String),
        )
        .property("parameters", ObjectBuilder::new().schema_type(Type::Array))
        .property("response", ObjectBuilder::new().schema_type(Type::Array))
        .property("errors", ObjectBuilder::new().schema_type(Type::Array));
    let ok = ResponseBuilder::new()
        .description("The endpoint's documentation.")
        .content(
            "application/json",
            Content::new(Some(RefOr::T(Schema::Object(body.build())))),
        )
        .build();
    let op = OperationBuilder::new()
        .tag("help")
        .summary(Some(format!("Documentation of {}", endpoint.doc.path)))
        .response("200", ok)
        .request_body(None::<RequestBody>)
        .parameters((!path_params.is_empty()).then_some(path_params))
        .build();
    PathItem::new(HttpMethod::Get, op)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The other direction of the integration test: every registered route
    /// (REST endpoints from the same list the router is built from, and the
    /// routes outside `/rest`) has an operation, and so has its `/help`.
    #[test]
    fn every_route_is_documented() {
        let doc = document();
        let documented: Vec<String> = doc
            .paths
            .paths
            .keys()
            .filter_map(|p| unversioned(p))
            .collect();
        for e in super::super::endpoint_list() {
            let path = format!("/rest{}", e.path);
            assert!(documented.contains(&path), "{path} has no OpenAPI path");
            let help = format!("{path}/help");
            assert!(documented.contains(&help), "{help} has no OpenAPI path");
            assert_eq!(
                unversioned(e.doc.path).as_deref(),
                Some(path.as_str()),
                "the help document's path"
            );
        }
        for path in ["/oauth2/token", "/authorize/{token}", "/openapi.json"] {
            assert!(doc.paths.paths.contains_key(path), "{path}");
        }
    }

    #[test]
    fn unversioned_paths() {
        assert_eq!(
            unversioned("/rest/v1.4/jpphp/x").as_deref(),
            Some("/rest/jpphp/x")
        );
        assert_eq!(unversioned("/oauth2/token"), None);
    }
}
