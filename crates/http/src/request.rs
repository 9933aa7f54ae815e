//! What a connector asks the client to send: a method, a URL, its own headers and body, whether
//! the connection's credentials go with it, and the quota category it is charged to.

use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

/// A request body, sent with its content type.
#[derive(Debug, Clone)]
pub enum Body {
    Json(Vec<u8>),
    /// `application/x-www-form-urlencoded`.
    Form(String),
}

/// One request. Cheap to clone: retries send it again as it is.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: reqwest::Method,
    pub url: Url,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<Body>,
    /// Send the connection's credentials. Off for a pre-signed download URL, which refuses a
    /// second way of authenticating.
    pub authenticated: bool,
    /// The vendor's rate-limit category (`ads_analytics`, `search_export`): the request waits
    /// for the quotas of its category and for those every request shares.
    pub category: Option<String>,
    /// Counted against the connection's quotas. Off for a request to another service (a
    /// report file on a storage service's pre-signed URL).
    pub metered: bool,
}

impl Request {
    pub fn get(url: Url) -> Self {
        Self {
            method: reqwest::Method::GET,
            url,
            headers: Vec::new(),
            body: None,
            authenticated: true,
            category: None,
            metered: true,
        }
    }

    /// A POST of `value` as JSON.
    pub fn post_json(url: Url, value: &serde_json::Value) -> Self {
        Self {
            method: reqwest::Method::POST,
            body: Some(Body::Json(value.to_string().into_bytes())),
            ..Self::get(url)
        }
    }

    /// A POST of form fields.
    pub fn post_form<'a>(url: Url, fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        Self {
            method: reqwest::Method::POST,
            body: Some(Body::Form(body)),
            ..Self::get(url)
        }
    }

    /// A POST of a form body already encoded (a Rest.li query tunnelled in a POST, whose
    /// structural characters a form encoder would escape).
    pub fn post_encoded_form(url: Url, body: String) -> Self {
        Self {
            method: reqwest::Method::POST,
            body: Some(Body::Form(body)),
            ..Self::get(url)
        }
    }

    /// Charge the request to a quota category.
    pub fn category(mut self, category: &str) -> Self {
        self.category = Some(category.to_string());
        self
    }

    /// Send it without the connection's credentials.
    pub fn without_auth(mut self) -> Self {
        self.authenticated = false;
        self
    }

    /// Send it outside the connection's quotas (it goes to another service).
    pub fn unmetered(mut self) -> Self {
        self.metered = false;
        self
    }

    /// Add a header (an invalid name or value is a bug of the connector, reported by the send).
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((HeaderName::from_static(name), v));
        }
        self
    }
}
