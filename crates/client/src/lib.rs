//! Typed client for the Jetpack Start partner API (see issue: partner side).
