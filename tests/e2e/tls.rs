//! Certificates for the TLS tests: a test authority and a server certificate it signed for
//! `localhost` and 127.0.0.1, made with openssl in a temporary directory, so that the
//! brokers and servers the tests start can serve TLS on loopback.

use std::path::{Path, PathBuf};

/// A test authority and a server certificate it signed, as PEM text and as files.
pub struct TestCertificates {
    /// The authority's certificate, PEM.
    pub authority: String,
    /// The server's certificate, PEM.
    pub cert: String,
    /// The server's private key, PEM.
    pub key: String,
    /// Where the authority's certificate is (`ca.pem`).
    pub authority_file: PathBuf,
    /// Where the server's certificate is (`cert.pem`).
    pub cert_file: PathBuf,
    /// Where the server's key is (`key.pem`).
    pub key_file: PathBuf,
}

impl TestCertificates {
    /// Makes them in `dir`.
    pub fn make(dir: &Path) -> Self {
        let openssl = |args: &[&str]| {
            let made = std::process::Command::new("openssl")
                .current_dir(dir)
                .args(args)
                .output()
                .expect("openssl runs");
            assert!(
                made.status.success(),
                "{}",
                String::from_utf8_lossy(&made.stderr)
            );
        };
        std::fs::write(
            dir.join("leaf.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=sandcron test authority",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "leaf.ext",
            "-out",
            "cert.pem",
        ]);
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        Self {
            authority: read("ca.pem"),
            cert: read("cert.pem"),
            key: read("key.pem"),
            authority_file: dir.join("ca.pem"),
            cert_file: dir.join("cert.pem"),
            key_file: dir.join("key.pem"),
        }
    }
}

/// A TLS-terminating TCP proxy on loopback: TLS with the test certificate on its side,
/// plain TCP to `upstream`, for a peer that serves no TLS itself (tansu). Runs on a
/// thread of its own until the test process ends; listens on `port` once this returns.
pub fn tls_proxy(certs: &TestCertificates, port: u16, upstream: String) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&certs.cert_file)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&certs.key_file).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(
        rustls::crypto::ring::default_provider().into(),
    )
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
                tokio::spawn(async move {
                    let Ok(mut client) = acceptor.accept(client).await else {
                        return;
                    };
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
    });
}
