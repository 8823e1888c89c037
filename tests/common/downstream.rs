//! A webhook destination for route tests: a local HTTP server answering every request with the status currently
//! set, keeping each request's headers and body.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

/// What the test receiver got: headers and body of each request.
#[derive(Clone)]
pub struct Got {
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
    /// The status it was answered with.
    pub status: u16,
    /// When it arrived.
    pub at: std::time::Instant,
}

/// A local HTTP receiver answering every request with the status currently set.
pub struct Downstream {
    pub url: String,
    status: Arc<AtomicU16>,
    got: Arc<Mutex<Vec<Got>>>,
    /// Headers added to every answer, e.g. `Retry-After`.
    answer_headers: Arc<Mutex<Vec<(String, String)>>>,
}

impl Downstream {
    pub async fn start(status: u16) -> Downstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let status = Arc::new(AtomicU16::new(status));
        let got = Arc::new(Mutex::new(Vec::new()));
        let answer_headers = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
        let (s, g, h) = (status.clone(), got.clone(), answer_headers.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (s, g, h) = (s.clone(), g.clone(), h.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (s, g, h) = (s.clone(), g.clone(), h.clone());
                        async move {
                            let at = std::time::Instant::now();
                            let headers = req.headers().clone();
                            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let status = s.load(Ordering::SeqCst);
                            g.lock().unwrap().push(Got { headers, body, status, at });
                            let mut resp = hyper::Response::new(Full::new(Bytes::from_static(b"nope")));
                            *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            for (k, v) in h.lock().unwrap().iter() {
                                resp.headers_mut().insert(
                                    hyper::header::HeaderName::try_from(k.as_str()).unwrap(),
                                    hyper::header::HeaderValue::try_from(v.as_str()).unwrap(),
                                );
                            }
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), svc).await;
                });
            }
        });
        Downstream { url, status, got, answer_headers }
    }

    pub fn set(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Adds a header to every answer from now on.
    pub fn answer_with(&self, name: &str, value: &str) {
        self.answer_headers.lock().unwrap().push((name.to_owned(), value.to_owned()));
    }

    /// Every request, in order.
    pub fn all(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// The requests answered 2xx, in order.
    pub fn delivered(&self) -> Vec<Got> {
        self.got.lock().unwrap().iter().filter(|g| (200..300).contains(&g.status)).cloned().collect()
    }

    pub fn attempts(&self) -> usize {
        self.got.lock().unwrap().len()
    }

    pub fn delivered_ids(&self) -> Vec<String> {
        self.delivered().iter().map(|g| header(g, "ce-id")).collect()
    }
}

pub fn header(g: &Got, name: &str) -> String {
    g.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}
