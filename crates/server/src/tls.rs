//! TLS in the binary (`serve --tls-cert --tls-key`): the certificate and key
//! read from PEM files, read again when the files change (so a renewed
//! certificate takes effect without a restart), and the rustls settings of
//! the listener (`ring` provider; ALPN offers HTTP/2 and HTTP/1.1).
//!
//! The files are checked on every handshake, by their modification time
//! and size only (two `stat` calls, next to a handshake's signature and key
//! exchange they cost nothing): a renewal is seen by the first connection
//! after it, with no timer to wait for or to configure. A change that does
//! not load (a half-written file, a key that does not match the
//! certificate) is reported once and the certificate in use stays; the next
//! change of either file is tried again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Why the certificate or its key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Only one of the two files is named.
    #[error("--tls-cert and --tls-key go together: give both, or neither for plain HTTP")]
    Incomplete,
    /// A file cannot be read.
    #[error("cannot read the TLS {what} file {path}: {source}")]
    Read {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no usable PEM section of the kind expected.
    #[error("the TLS {what} file {path} holds no {expected}: {reason}")]
    Pem {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What it should hold.
        expected: &'static str,
        /// What the PEM reader said.
        reason: String,
    },
    /// The key is unsupported, or does not belong to the certificate.
    #[error(
        "the TLS key {key} does not fit the certificate {certificate}: {reason} \
         (the key must be the certificate's own, as PEM, RSA, ECDSA or Ed25519)"
    )]
    Mismatch {
        /// The certificate file.
        certificate: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        reason: String,
    },
}

/// What a file looked like when last read: a change of either means it
/// was replaced or rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

impl Stamp {
    /// `None` when the file cannot be looked at (being replaced, say): no
    /// reload is attempted until it can.
    fn of(path: &Path) -> Option<Stamp> {
        let metadata = std::fs::metadata(path).ok()?;
        Some(Stamp {
            modified: metadata.modified().ok(),
            len: metadata.len(),
        })
    }
}

/// The server's certificate, as the files hold it now: implements rustls'
/// certificate choice ([`ResolvesServerCert`]) with the current one.
#[derive(Debug)]
pub struct CertificateFiles {
    certificate: PathBuf,
    key: PathBuf,
    current: ArcSwap<CertifiedKey>,
    /// The files' stamps at the last attempt to load them (successful or
    /// not), so a broken change is reported once, not on every handshake.
    /// Held while loading: concurrent handshakes use the current one.
    seen: Mutex<(Option<Stamp>, Option<Stamp>)>,
}

impl CertificateFiles {
    /// Loads the certificate chain and key (PEM), or says why they cannot
    /// be used: at start, a problem is an error, not a warning.
    pub fn load(certificate: &Path, key: &Path) -> Result<CertificateFiles, TlsError> {
        let stamps = (Stamp::of(certificate), Stamp::of(key));
        let loaded = load_pair(certificate, key)?;
        Ok(CertificateFiles {
            certificate: certificate.to_path_buf(),
            key: key.to_path_buf(),
            current: ArcSwap::from_pointee(loaded),
            seen: Mutex::new(stamps),
        })
    }

    /// The certificate to present now, after loading the files again if
    /// they changed since they were last read.
    fn current(&self) -> Arc<CertifiedKey> {
        self.reload_if_changed();
        self.current.load_full()
    }

    fn reload_if_changed(&self) {
        let stamps = (Stamp::of(&self.certificate), Stamp::of(&self.key));
        // Another handshake is loading them: it will install the result.
        let Ok(mut seen) = self.seen.try_lock() else {
            return;
        };
        if *seen == stamps || stamps.0.is_none() || stamps.1.is_none() {
            return;
        }
        *seen = stamps;
        match load_pair(&self.certificate, &self.key) {
            Ok(loaded) => {
                self.current.store(Arc::new(loaded));
                tracing::info!(
                    tls.certificate = %self.certificate.display(),
                    "loaded the changed TLS certificate; new connections use it"
                );
            }
            Err(error) => tracing::warn!(
                %error,
                "the TLS certificate or key changed but cannot be used; \
                 keeping the previous certificate"
            ),
        }
    }
}

impl ResolvesServerCert for CertificateFiles {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The chain in `certificate` (leaf first, as PEM `CERTIFICATE` sections)
/// with the key in `key` (PKCS#8, PKCS#1 or SEC1 PEM), checked to match.
fn load_pair(certificate: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let read = |what, path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            what,
            path: path.to_path_buf(),
            source,
        })
    };
    let certificate_pem = read("certificate", certificate)?;
    let key_pem = read("key", key)?;
    let chain = CertificateDer::pem_slice_iter(&certificate_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what: "certificate",
            path: certificate.to_path_buf(),
            expected: "PEM certificate",
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            what: "certificate",
            path: certificate.to_path_buf(),
            expected: "PEM certificate",
            reason: "no `BEGIN CERTIFICATE` section".into(),
        });
    }
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Pem {
        what: "key",
        path: key.to_path_buf(),
        expected: "PEM private key",
        reason: e.to_string(),
    })?;
    CertifiedKey::from_der(chain, private_key, &provider()).map_err(|e| TlsError::Mismatch {
        certificate: certificate.to_path_buf(),
        key: key.to_path_buf(),
        reason: e.to_string(),
    })
}

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The listener's TLS settings: the reloading certificate, TLS 1.2 and
/// 1.3 with `ring`, and ALPN offering HTTP/2 before HTTP/1.1.
pub fn server_config(
    certificates: Arc<CertificateFiles>,
) -> Result<rustls::ServerConfig, rustls::Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(certificates);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
