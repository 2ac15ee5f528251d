//! The HTTP server of `sandcron serve`: plain HTTP, or HTTPS with rustls when
//! `--tls-cert` and `--tls-key` are given. On SIGHUP the certificate and key are read
//! again and used for every new handshake; open connections keep theirs, so a renewal
//! (certbot, cert-manager) drops nothing. A file that does not load leaves the old
//! certificate in place, with an error in the log.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;

use super::CliError;

/// Where the certificate chain and its key are (PEM files).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// A bound listener, plain or TLS, not yet serving.
pub struct HttpServer {
    listener: std::net::TcpListener,
    tls: Option<(TlsFiles, RustlsConfig)>,
    handle: Handle<SocketAddr>,
}

impl HttpServer {
    /// Binds `address` and, for TLS, loads the certificate and key now, so that a bad
    /// file stops the start with an error naming it.
    pub async fn bind(address: &str, tls: Option<TlsFiles>) -> Result<Self, CliError> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .and_then(|listener| listener.into_std())
            .map_err(|e| CliError::Error(format!("cannot listen on {address}: {e}")))?;
        let tls = match tls {
            None => None,
            Some(files) => {
                let config = RustlsConfig::from_config(load(&files).await?);
                Some((files, config))
            }
        };
        Ok(Self {
            listener,
            tls,
            handle: Handle::new(),
        })
    }

    /// The address bound.
    pub fn local_addr(&self) -> Result<SocketAddr, CliError> {
        self.listener
            .local_addr()
            .map_err(|e| CliError::Error(format!("cannot read the address bound: {e}")))
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// A handle that stops the server: no new connections, open ones get `grace`.
    pub fn stopper(&self) -> impl FnOnce(Duration) + Send + 'static {
        let handle = self.handle.clone();
        move |grace| handle.graceful_shutdown(Some(grace))
    }

    /// Serves `app` until stopped; with TLS, reloads the certificate on every SIGHUP.
    pub async fn serve(self, app: Router) -> std::io::Result<()> {
        let service = app.into_make_service();
        match self.tls {
            None => {
                axum_server::from_tcp(self.listener)?
                    .handle(self.handle)
                    .serve(service)
                    .await
            }
            Some((files, config)) => {
                let reloads = tokio::spawn(reload_on_hangup(files, config.clone()));
                let served = axum_server::from_tcp_rustls(self.listener, config)?
                    .handle(self.handle)
                    .serve(service)
                    .await;
                reloads.abort();
                served
            }
        }
    }
}

/// Reads the certificate and key again at each SIGHUP.
async fn reload_on_hangup(files: TlsFiles, config: RustlsConfig) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::error!("cannot listen for SIGHUP: the certificate will not be reloaded");
        return;
    };
    while hangups.recv().await.is_some() {
        match load(&files).await {
            Ok(loaded) => {
                config.reload_from_config(loaded);
                tracing::info!(cert = %files.cert.display(), "reloaded the TLS certificate");
            }
            Err(CliError::Error(error) | CliError::Usage(error) | CliError::Failed(error)) => {
                tracing::error!(%error, "kept the previous TLS certificate");
            }
        }
    }
}

/// The rustls server configuration of `files` (HTTP/2 and HTTP/1.1 offered by ALPN).
async fn load(files: &TlsFiles) -> Result<std::sync::Arc<rustls::ServerConfig>, CliError> {
    let read = |path: &Path| {
        let path = path.to_path_buf();
        async move {
            tokio::fs::read(&path)
                .await
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))
        }
    };
    let (cert_pem, key_pem) = (read(&files.cert).await?, read(&files.key).await?);
    let config = server_config(&cert_pem, &key_pem).map_err(|e| {
        CliError::Usage(format!(
            "--tls-cert {} / --tls-key {}: {e}",
            files.cert.display(),
            files.key.display()
        ))
    })?;
    Ok(std::sync::Arc::new(config))
}

/// A server configuration from a PEM certificate chain and a PEM key.
fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    if chain.is_empty() {
        return Err("the certificate file holds no certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("not a PEM private key: {e}"))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the key does not fit the certificate: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
