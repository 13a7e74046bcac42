//! HTTPS: `--tls-cert FILE --tls-key FILE` (PEM) serve the API and the console over TLS with
//! rustls, the pure-Rust TLS the rest of steppe already uses (ureq), on the `ring` provider
//! already in the build. The handshake runs in each connection's own task, within the
//! header-read timeout, so a slow or silent client holds only its own connection.

use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// What accepts TLS connections.
pub type Acceptor = tokio_rustls::TlsAcceptor;

/// An acceptor for the certificate chain and private key in these PEM files; the error says
/// which file and why.
pub fn acceptor(cert: &Path, key: &Path) -> Result<Acceptor, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| format!("--tls-cert {}: {error}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert {}: no certificate in the file",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| format!("--tls-key {}: {error}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| format!("--tls-cert/--tls-key: {error}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
