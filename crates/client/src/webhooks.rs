//! The webhook calls (SPEC §10) under `/wpcom/v2/jetpack-partners/{id}`,
//! and the Monitor URL. They need a partner user's or a top-level key's
//! token.

use jpstart_types::webhooks::{
    Delivery, DeliveryList, EventType, MonitorWebhook, WebhookCreated, WebhookDeleted, WebhookList,
};
use reqwest::Method;
use serde_json::json;

use crate::error::Result;
use crate::request::{ApiRequest, Body};
use crate::Client;

pub mod requests {
    use super::*;

    fn partner_path(partner: i64, tail: &[&str]) -> ApiRequest {
        let p = partner.to_string();
        let mut all = vec!["wpcom", "v2", "jetpack-partners", p.as_str()];
        all.extend_from_slice(tail);
        ApiRequest::new(Method::GET, &all)
    }

    fn with_method(mut r: ApiRequest, method: Method) -> ApiRequest {
        r.method = method;
        r
    }

    /// `POST .../webhooks` (JSON body; no events: every type).
    pub fn create_webhook(partner: i64, url: &str, events: &[EventType]) -> ApiRequest {
        let mut body = json!({ "url": url });
        if !events.is_empty() {
            body["events"] = json!(events);
        }
        with_method(partner_path(partner, &["webhooks"]), Method::POST).body(Body::Json(body))
    }

    /// `GET .../webhooks`.
    pub fn list_webhooks(partner: i64) -> ApiRequest {
        partner_path(partner, &["webhooks"])
    }

    /// `DELETE .../webhooks/{id}`.
    pub fn delete_webhook(partner: i64, id: i64) -> ApiRequest {
        let id = id.to_string();
        with_method(partner_path(partner, &["webhooks", &id]), Method::DELETE)
    }

    /// `GET .../webhooks/{id}/deliveries`.
    pub fn deliveries(partner: i64, id: i64) -> ApiRequest {
        let id = id.to_string();
        partner_path(partner, &["webhooks", &id, "deliveries"])
    }

    /// `POST .../webhooks/{id}/deliveries/{delivery}/replay`.
    pub fn replay(partner: i64, id: i64, delivery: i64) -> ApiRequest {
        let (id, delivery) = (id.to_string(), delivery.to_string());
        let tail = [
            "webhooks",
            id.as_str(),
            "deliveries",
            delivery.as_str(),
            "replay",
        ];
        with_method(partner_path(partner, &tail), Method::POST)
    }

    /// `POST .../monitor-webhook`.
    pub fn set_monitor_webhook(partner: i64, url: &str) -> ApiRequest {
        with_method(partner_path(partner, &["monitor-webhook"]), Method::POST)
            .body(Body::Form(vec![("url".into(), url.into())]))
    }
}

impl Client {
    /// Registers a webhook endpoint; the answer's `secret` is shown only here.
    pub async fn create_webhook(
        &self,
        partner: i64,
        url: &str,
        events: &[EventType],
    ) -> Result<WebhookCreated> {
        self.execute(&requests::create_webhook(partner, url, events))
            .await
    }

    pub async fn list_webhooks(&self, partner: i64) -> Result<WebhookList> {
        self.execute(&requests::list_webhooks(partner)).await
    }

    pub async fn delete_webhook(&self, partner: i64, id: i64) -> Result<WebhookDeleted> {
        self.execute(&requests::delete_webhook(partner, id)).await
    }

    /// An endpoint's delivery log, newest first.
    pub async fn webhook_deliveries(&self, partner: i64, id: i64) -> Result<DeliveryList> {
        self.execute(&requests::deliveries(partner, id)).await
    }

    /// Sends a delivery again.
    pub async fn replay_delivery(&self, partner: i64, id: i64, delivery: i64) -> Result<Delivery> {
        self.execute(&requests::replay(partner, id, delivery)).await
    }

    pub async fn set_monitor_webhook(&self, partner: i64, url: &str) -> Result<MonitorWebhook> {
        self.execute(&requests::set_monitor_webhook(partner, url))
            .await
    }
}
