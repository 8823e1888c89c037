//! The benchmark's ceiling: hyper + rustls answering 204 without reading the body, on glwatch's TLS settings.
//!
//! `cargo run --release --example bare_hyper -- ADDR CERT KEY`

use bytes::Bytes;
use http_body_util::Empty;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::sync::Arc;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, cert, key] = args.as_slice() else {
        eprintln!("usage: bare_hyper ADDR CERT KEY");
        std::process::exit(2);
    };
    let identity = glwatch::server::tls::load(cert.as_ref(), key.as_ref()).unwrap_or_else(|e| {
        eprintln!("bare_hyper: {e}");
        std::process::exit(1)
    });
    let serving = glwatch::server::certs::ServingCert::new(&identity).unwrap_or_else(|e| {
        eprintln!("bare_hyper: {e}");
        std::process::exit(1)
    });
    let tls = Arc::new(glwatch::server::tls::server_config(serving).expect("TLS config"));
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let listener = tokio::net::TcpListener::bind(addr.as_str()).await.expect("bind");
    eprintln!("bare_hyper: listening on https://{}/", listener.local_addr().expect("address"));
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else { return };
            let service = service_fn(|_req| async {
                Ok::<_, std::convert::Infallible>(
                    Response::builder().status(StatusCode::NO_CONTENT).body(Empty::<Bytes>::new()).expect("response"),
                )
            });
            let _ = auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(tls), service).await;
        });
    }
}
