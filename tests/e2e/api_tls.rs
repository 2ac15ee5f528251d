//! The API over HTTPS: `serve --tls-cert --tls-key` with certificates of a private CA this
//! test makes (rcgen), the CLI trusting it through `--ca-cert` (and refusing the server
//! without it), and a certificate replaced on disk and reloaded on SIGHUP without
//! dropping the connections already open.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

use crate::support::{Server, sandcron, stderr};

/// A certificate authority of the test's own.
fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A server certificate for `127.0.0.1` and `localhost` signed by `ca`: its PEM, its key's
/// PEM and its DER.
fn server_certificate(ca: &CertifiedIssuer<'_, KeyPair>, name: &str) -> (String, String, Vec<u8>) {
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let certificate = params.signed_by(&key, ca).unwrap();
    (
        certificate.pem(),
        key.serialize_pem(),
        certificate.der().to_vec(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A client trusting `ca_pem` only, keeping its connections, reporting the peer's
/// certificate.
fn client(ca_pem: &str, token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .default_headers(headers)
        .tls_info(true)
        .build()
        .unwrap()
}

/// Sends `GET /v1/jobs` and returns the DER of the certificate the server presented.
async fn served_certificate(client: &reqwest::Client, base: &str) -> Vec<u8> {
    let response = client.get(format!("{base}/v1/jobs")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let certificate = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("a TLS connection")
        .to_vec();
    response.bytes().await.unwrap();
    certificate
}

#[tokio::test]
async fn the_api_serves_https_the_cli_trusts_a_private_ca_and_sighup_reloads_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = authority("Sandcron test CA");
    let ca_file = write(dir.path(), "ca.pem", &ca.pem());
    let (first_pem, first_key, first_der) = server_certificate(&ca, "first");
    let cert = write(dir.path(), "server.pem", &first_pem);
    let key = write(dir.path(), "server.key", &first_key);
    let server = Server::sqlite(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );

    // The CLI, trusting the CA through --ca-cert; refusing the server without it.
    let cli = |ca_cert: Option<&Path>| {
        let mut command = sandcron();
        command
            .env("SANDCRON_SERVER", &server.base)
            .env("SANDCRON_TOKEN", &server.admin_token)
            .args(["job", "list"]);
        if let Some(path) = ca_cert {
            command.arg("--ca-cert").arg(path);
        }
        command.output().unwrap()
    };
    let trusted = cli(Some(&ca_file));
    assert!(trusted.status.success(), "{}", stderr(&trusted));
    let untrusted = cli(None);
    assert_eq!(untrusted.status.code(), Some(1));
    assert!(
        stderr(&untrusted).contains("cannot reach the server")
            && stderr(&untrusted).to_lowercase().contains("certificate"),
        "{}",
        stderr(&untrusted)
    );
    let other_ca = write(dir.path(), "other-ca.pem", &authority("another CA").pem());
    assert_eq!(cli(Some(&other_ca)).status.code(), Some(1));
    // Plain HTTP to the TLS port gets no answer.
    let plain = server.base.replace("https://", "http://");
    assert!(
        reqwest::Client::new()
            .get(format!("{plain}/health"))
            .send()
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true)
    );

    // A connection opened before the reload.
    let before = client(&ca.pem(), &server.admin_token);
    assert_eq!(served_certificate(&before, &server.base).await, first_der);

    let (second_pem, second_key, second_der) = server_certificate(&ca, "second");
    std::fs::write(&cert, second_pem).unwrap();
    std::fs::write(&key, second_key).unwrap();
    // SAFETY: `kill` has no memory effects; the pid is the test's own child.
    unsafe { libc::kill(server.pid() as i32, libc::SIGHUP) };
    crate::support::eventually(
        "the new certificate on new connections",
        std::time::Duration::from_secs(10),
        || async {
            let fresh = client(&ca.pem(), &server.admin_token);
            (served_certificate(&fresh, &server.base).await == second_der).then_some(())
        },
    )
    .await;
    // The connection opened before is still the same one, with the first certificate.
    assert_eq!(served_certificate(&before, &server.base).await, first_der);
    assert!(
        server.log().contains("reloaded the TLS certificate"),
        "{}",
        server.log()
    );

    // A key that does not load is refused and the certificate in use kept.
    std::fs::write(&key, "not a key").unwrap();
    // SAFETY: as above.
    unsafe { libc::kill(server.pid() as i32, libc::SIGHUP) };
    crate::support::eventually(
        "the refused reload in the log",
        std::time::Duration::from_secs(10),
        || async {
            server
                .log()
                .contains("kept the previous TLS certificate")
                .then_some(())
        },
    )
    .await;
    let fresh = client(&ca.pem(), &server.admin_token);
    assert_eq!(served_certificate(&fresh, &server.base).await, second_der);
}
