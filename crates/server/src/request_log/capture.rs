//! Copies of the bodies as they stream by, bounded: the request body as the
//! handler reads it, the response body as it is written. Neither is
//! buffered ahead of its reader, so the body-size limit (413) and the
//! request deadline (408) stay where they are, and a large response is not
//! held back.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Body as AxumBody;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

/// The first `cap` bytes of a body, and whether there were more.
#[derive(Debug, Default)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// Bytes seen in all (past the cap too).
    pub seen: usize,
    cap: usize,
}

impl Captured {
    pub fn new(cap: usize) -> Self {
        Captured {
            bytes: Vec::new(),
            seen: 0,
            cap,
        }
    }

    pub fn truncated(&self) -> bool {
        self.seen > self.bytes.len()
    }

    fn push(&mut self, data: &Bytes) {
        self.seen = self.seen.saturating_add(data.len());
        let room = self.cap.saturating_sub(self.bytes.len());
        self.bytes.extend_from_slice(&data[..room.min(data.len())]);
    }
}

/// The request body, copied into a shared [`Captured`] as the handler
/// reads it (the middleware keeps the other handle).
pub struct RequestTee {
    inner: AxumBody,
    copy: Arc<Mutex<Captured>>,
}

impl RequestTee {
    pub fn new(inner: AxumBody, copy: Arc<Mutex<Captured>>) -> Self {
        RequestTee { inner, copy }
    }
}

impl Body for RequestTee {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                // A poisoned lock only means a panic elsewhere mid-copy.
                let mut copy = self.copy.lock().unwrap_or_else(|p| p.into_inner());
                copy.push(data);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body, copied as it is written; when it is done (or
/// dropped: the client went away) `on_done` gets the copy, once.
pub struct ResponseTee {
    inner: AxumBody,
    copy: Captured,
    on_done: Option<Box<dyn FnOnce(Captured) + Send>>,
}

impl ResponseTee {
    pub fn new(
        inner: AxumBody,
        cap: usize,
        on_done: impl FnOnce(Captured) + Send + 'static,
    ) -> Self {
        ResponseTee {
            inner,
            copy: Captured::new(cap),
            on_done: Some(Box::new(on_done)),
        }
    }

    fn finish(&mut self) {
        if let Some(f) = self.on_done.take() {
            f(std::mem::take(&mut self.copy));
        }
    }
}

impl Body for ResponseTee {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.copy.push(data);
                }
                if self.inner.is_end_stream() {
                    self.finish();
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseTee {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn copies_are_capped_and_the_body_passes_whole() {
        let copy = Arc::new(Mutex::new(Captured::new(4)));
        let tee = RequestTee::new(AxumBody::from("abcdefgh"), copy.clone());
        let all = axum::body::to_bytes(AxumBody::new(tee), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&all[..], b"abcdefgh");
        {
            let c = copy.lock().unwrap();
            assert_eq!(c.bytes, b"abcd");
            assert!(c.truncated());
        }

        let (tx, rx) = std::sync::mpsc::channel();
        let tee = ResponseTee::new(AxumBody::from("xyz"), 10, move |c| {
            tx.send(c).unwrap();
        });
        let all = axum::body::to_bytes(AxumBody::new(tee), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&all[..], b"xyz");
        let c = rx.recv().unwrap();
        assert_eq!(c.bytes, b"xyz");
        assert!(!c.truncated());
        assert!(rx.try_recv().is_err(), "reported once");
    }

    #[test]
    fn a_dropped_response_still_reports() {
        let (tx, rx) = std::sync::mpsc::channel();
        drop(ResponseTee::new(AxumBody::from("xyz"), 10, move |c| {
            tx.send(c.seen).unwrap();
        }));
        assert_eq!(rx.recv().unwrap(), 0);
    }
}
