//! SigV4 authentication: with `--credentials FILE`, every API request must be signed by a key
//! the file lists, as AWS requires.
//!
//! The file is the AWS shared-credentials format (`~/.aws/credentials`): `[profile]` sections
//! with `aws_access_key_id`, `aws_secret_access_key` and, beyond AWS's format,
//! `aws_account_id` and `steppe_reveal_secrets` (TestState's `revealSecrets` honoured for
//! that key only, as AWS asks for the `states:RevealSecrets` permission). A request is verified by signing it again: the signature is computed
//! with `aws-sigv4` (the AWS SDK for Rust's own signer) over exactly the headers the client
//! signed, at the time it signed them, with the listed key's secret, and compared with the
//! client's in constant time (`subtle`). A signature more than 5 minutes from the server's
//! clock is refused, as AWS refuses it. Answers are AWS's:
//! `MissingAuthenticationTokenException` for an unsigned request,
//! `UnrecognizedClientException` for an unknown key, `InvalidSignatureException` for a wrong
//! or expired signature.

use crate::arn::Arns;
use crate::error::ApiError;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How far a signature's time may be from the server's (AWS: 5 minutes).
pub const CLOCK_SKEW_MAX: Duration = Duration::from_secs(5 * 60);

/// One listed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The secret it signs with.
    pub secret_access_key: String,
    /// The account it acts as (`aws_account_id`), if given.
    pub account_id: Option<String>,
    /// Whether TestState's `revealSecrets` is honoured for it (`steppe_reveal_secrets = true`;
    /// AWS asks for the `states:RevealSecrets` permission).
    pub reveal_secrets: bool,
}

/// The keys of a credentials file, by access key id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    keys: BTreeMap<String, Key>,
}

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The access key id.
    pub access_key_id: String,
    /// The region of the signature's credential scope.
    pub region: String,
    /// The key's account, if the file gives one.
    pub account_id: Option<String>,
    /// Whether it may see secrets in TestState (see [`Key::reveal_secrets`]).
    pub reveal_secrets: bool,
}

impl Credentials {
    /// Reads a credentials file; the error names the file and the line.
    pub fn load(path: &Path) -> Result<Credentials, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        Credentials::parse(&text).map_err(|why| format!("{}: {why}", path.display()))
    }

    /// Parses the shared-credentials format.
    pub fn parse(text: &str) -> Result<Credentials, String> {
        let mut profiles: Vec<(String, BTreeMap<String, String>)> = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
            {
                profiles.push((name.trim().to_string(), BTreeMap::new()));
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("line {}: expected KEY = VALUE", number + 1))?;
            let (_, settings) = profiles
                .last_mut()
                .ok_or_else(|| format!("line {}: a setting before any [profile]", number + 1))?;
            settings.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
        }
        let mut keys = BTreeMap::new();
        for (profile, settings) in profiles {
            let setting = |name: &str| {
                settings
                    .get(name)
                    .filter(|value| !value.is_empty())
                    .cloned()
                    .ok_or_else(|| format!("the profile [{profile}] has no {name}"))
            };
            let access_key_id = setting("aws_access_key_id")?;
            let key = Key {
                secret_access_key: setting("aws_secret_access_key")?,
                account_id: settings.get("aws_account_id").cloned(),
                reveal_secrets: match settings.get("steppe_reveal_secrets").map(String::as_str) {
                    None | Some("false") => false,
                    Some("true") => true,
                    Some(other) => {
                        return Err(format!(
                            "the profile [{profile}]'s steppe_reveal_secrets '{other}' is not true or false"
                        ))
                    }
                },
            };
            if let Some(account) = &key.account_id {
                if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!(
                        "the profile [{profile}]'s aws_account_id '{account}' is not 12 digits"
                    ));
                }
            }
            keys.insert(access_key_id, key);
        }
        if keys.is_empty() {
            return Err("no profile with aws_access_key_id and aws_secret_access_key".into());
        }
        Ok(Credentials { keys })
    }

    /// Checks a request's SigV4 signature; answers who signed it.
    pub fn verify(&self, request: &Signed<'_>, now: SystemTime) -> Result<Caller, ApiError> {
        let authorization = request.header("authorization").ok_or_else(missing_token)?;
        let parsed = Authorization::parse(authorization).ok_or_else(|| {
            ApiError {
                status: 400,
                ..ApiError::new(
                    "IncompleteSignatureException",
                    format!("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters. Authorization={authorization}"),
                )
            }
        })?;
        let key = self
            .keys
            .get(parsed.access_key_id)
            .ok_or_else(unrecognized_client)?;
        let amz_date = request
            .header("x-amz-date")
            .ok_or_else(|| invalid_signature("the request has no X-Amz-Date header".into()))?;
        let signed_at = parse_amz_date(amz_date).ok_or_else(|| {
            invalid_signature(format!("X-Amz-Date '{amz_date}' is not YYYYMMDDTHHMMSSZ"))
        })?;
        let skew = match now.duration_since(signed_at) {
            Ok(behind) => behind,
            Err(ahead) => ahead.duration(),
        };
        if skew > CLOCK_SKEW_MAX {
            return Err(invalid_signature(format!(
                "Signature expired: {amz_date} is now earlier than {} ({} - 5 min.)",
                format_amz_date(now - CLOCK_SKEW_MAX),
                format_amz_date(now)
            )));
        }
        let expected = sign(request, &parsed, key, signed_at).map_err(invalid_signature)?;
        use subtle::ConstantTimeEq;
        if expected
            .as_bytes()
            .ct_eq(parsed.signature.as_bytes())
            .into()
        {
            Ok(Caller {
                access_key_id: parsed.access_key_id.to_string(),
                region: parsed.region.to_string(),
                account_id: key.account_id.clone(),
                reveal_secrets: key.reveal_secrets,
            })
        } else {
            Err(invalid_signature(
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
            ))
        }
    }
}

/// The scope (account and region) a request acts in: the signer's account (the key's
/// `aws_account_id`, else the server's `--account`) and the region of the signature's
/// credential scope (else the server's `--region`). Without `--credentials` signatures are not
/// checked, but the region is still read from the `Authorization` header, so a client
/// configured for eu-west-1 works in eu-west-1 there too. A region that cannot be one (ARNs
/// are built from it) is refused as AWS refuses it.
pub fn scope(
    defaults: &Arns,
    caller: Option<&Caller>,
    authorization: Option<&str>,
) -> Result<Arns, ApiError> {
    let (region, account) = match caller {
        Some(caller) => (Some(caller.region.as_str()), caller.account_id.as_deref()),
        None => (
            authorization
                .and_then(Authorization::parse)
                .map(|parsed| parsed.region),
            None,
        ),
    };
    let region = match region {
        None => defaults.region.clone(),
        Some(region) if valid_region(region) => region.to_string(),
        Some(region) => {
            return Err(invalid_signature(format!(
                "Credential should be scoped to a valid region, not '{region}'. "
            )))
        }
    };
    Ok(Arns {
        region,
        account: account.unwrap_or(&defaults.account).to_string(),
    })
}

/// Whether `region` can name a region: 1 to [`crate::limits::REGION_CHARS_MAX`] lowercase letters, digits and
/// hyphens, starting with a letter (`us-east-1`, and `local` as Step Functions Local's clients
/// use).
fn valid_region(region: &str) -> bool {
    (1..=crate::limits::REGION_CHARS_MAX).contains(&region.len())
        && region.starts_with(|c: char| c.is_ascii_lowercase())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What a signature covers: the request as received.
#[derive(Debug)]
pub struct Signed<'a> {
    /// `POST`, ...
    pub method: &'a str,
    /// The path and query string.
    pub path_and_query: &'a str,
    /// Every header (names in any case).
    pub headers: Vec<(&'a str, &'a str)>,
    /// The body.
    pub body: &'a [u8],
}

impl Signed<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }
}

/// `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b,
/// Signature=HEX`.
struct Authorization<'a> {
    access_key_id: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

impl<'a> Authorization<'a> {
    fn parse(header: &'a str) -> Option<Authorization<'a>> {
        let rest = header.strip_prefix("AWS4-HMAC-SHA256")?.trim_start();
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (name, value) = part.trim().split_once('=')?;
            match name {
                "Credential" => credential = Some(value),
                "SignedHeaders" => signed_headers = Some(value),
                "Signature" => signature = Some(value),
                _ => {}
            }
        }
        let mut scope = credential?.split('/');
        let access_key_id = scope.next()?;
        let _date = scope.next()?;
        let region = scope.next()?;
        let service = scope.next()?;
        (scope.next()? == "aws4_request").then_some(())?;
        Some(Authorization {
            access_key_id,
            region,
            service,
            signed_headers: signed_headers?.split(';').collect(),
            signature: signature?,
        })
    }
}

/// The signature `key` gives the request's signed headers at `signed_at`.
fn sign(
    request: &Signed<'_>,
    authorization: &Authorization<'_>,
    key: &Key,
    signed_at: SystemTime,
) -> Result<String, String> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
    let identity = aws_credential_types::Credentials::new(
        authorization.access_key_id,
        key.secret_access_key.clone(),
        None,
        None,
        "steppe",
    )
    .into();
    let mut settings = SigningSettings::default();
    // Exactly the headers the client signed are passed, so none is left out.
    settings.excluded_headers = None;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(authorization.region)
        .name(authorization.service)
        .time(signed_at)
        .settings(settings)
        .build()
        .map_err(|error| error.to_string())?
        .into();
    let headers = request.headers.iter().copied().filter(|(name, _)| {
        authorization
            .signed_headers
            .iter()
            .any(|signed| signed.eq_ignore_ascii_case(name))
    });
    let uri = format!(
        "http://{}{}",
        request.header("host").unwrap_or("localhost"),
        request.path_and_query
    );
    let signable = SignableRequest::new(
        request.method,
        uri,
        headers,
        SignableBody::Bytes(request.body),
    )
    .map_err(|error| error.to_string())?;
    let (_, signature) = aws_sigv4::http_request::sign(signable, &params)
        .map_err(|error| error.to_string())?
        .into_parts();
    Ok(signature)
}

/// `20241127T120000Z` as a time (through the RFC 3339 reader Step Functions' timestamps use).
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let digits = |range: std::ops::Range<usize>| {
        text.get(range)
            .filter(|part| part.bytes().all(|b| b.is_ascii_digit()))
    };
    if text.len() != 16 || text.get(8..9) != Some("T") || !text.ends_with('Z') {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        digits(0..4)?,
        digits(4..6)?,
        digits(6..8)?,
        digits(9..11)?,
        digits(11..13)?,
        digits(13..15)?
    );
    let millis = u64::try_from(steppe_asl::timestamp::parse_rfc3339(&rfc3339)?).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(millis))
}

/// A time as `20241127T120000Z`.
fn format_amz_date(time: SystemTime) -> String {
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    steppe_asl::timestamp::format_iso8601(seconds * 1000)
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect()
}

fn missing_token() -> ApiError {
    ApiError {
        status: 403,
        ..ApiError::new(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )
    }
}

fn unrecognized_client() -> ApiError {
    ApiError::new(
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
}

fn invalid_signature(message: String) -> ApiError {
    ApiError::new("InvalidSignatureException", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_credentials_format_is_read() {
        let credentials = Credentials::parse(
            "# keys\n[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = s3cret\n\n\
             [team]\naws_access_key_id=AKIDTEAM\naws_secret_access_key=other\naws_account_id = 111122223333\n",
        )
        .unwrap();
        assert_eq!(credentials.keys.len(), 2);
        assert_eq!(
            credentials.keys["AKIDTEAM"].account_id.as_deref(),
            Some("111122223333")
        );
        for bad in [
            "",
            "aws_access_key_id = x",
            "[p]\naws_access_key_id = x",
            "[p]\nnot a setting",
            "[p]\naws_access_key_id=x\naws_secret_access_key=y\naws_account_id=12",
        ] {
            assert!(Credentials::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_scope_is_the_signers_account_and_the_signatures_region() {
        let defaults = Arns {
            region: "us-east-1".into(),
            account: "123456789012".into(),
        };
        let header = |region: &str| {
            format!("AWS4-HMAC-SHA256 Credential=AKID/20261203/{region}/states/aws4_request, SignedHeaders=host, Signature=00")
        };
        let unsigned = scope(&defaults, None, Some(&header("eu-west-1"))).unwrap();
        assert_eq!(
            (unsigned.region.as_str(), unsigned.account.as_str()),
            ("eu-west-1", "123456789012")
        );
        assert_eq!(scope(&defaults, None, None).unwrap(), defaults);
        assert_eq!(scope(&defaults, None, Some("Bearer x")).unwrap(), defaults);
        let caller = Caller {
            access_key_id: "AKID".into(),
            region: "ap-south-1".into(),
            account_id: Some("999999999999".into()),
            reveal_secrets: false,
        };
        // A verified caller's scope comes from its signature, not from the header again.
        let signed = scope(&defaults, Some(&caller), Some(&header("eu-west-1"))).unwrap();
        assert_eq!(
            (signed.region.as_str(), signed.account.as_str()),
            ("ap-south-1", "999999999999")
        );
        let without_account = Caller {
            account_id: None,
            ..caller
        };
        assert_eq!(
            scope(&defaults, Some(&without_account), None)
                .unwrap()
                .account,
            "123456789012"
        );
        for bad in ["eu:west-1", "EU-WEST-1", "-1", &"a".repeat(33)] {
            let refused = scope(&defaults, None, Some(&header(bad))).unwrap_err();
            assert_eq!(refused.code, "InvalidSignatureException", "{bad}");
        }
    }

    #[test]
    fn amz_dates_round_trip() {
        for text in [
            "20150830T123600Z",
            "20000229T000000Z",
            "19700101T000000Z",
            "20261203T235959Z",
        ] {
            let time = parse_amz_date(text).unwrap();
            assert_eq!(format_amz_date(time), text);
        }
        assert_eq!(
            parse_amz_date("20150830T123600Z")
                .unwrap()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            1_440_938_160
        );
        for bad in [
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150830T123600",
        ] {
            assert!(parse_amz_date(bad).is_none(), "{bad}");
        }
    }

    /// AWS's own SigV4 test vector ("get-vanilla" of the SigV4 test suite).
    #[test]
    fn awss_test_vector_verifies_and_a_changed_byte_does_not() {
        let credentials = Credentials::parse(
            "[default]\naws_access_key_id=AKIDEXAMPLE\naws_secret_access_key=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n",
        )
        .unwrap();
        let authorization = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let request = |authorization| Signed {
            method: "GET",
            path_and_query: "/",
            headers: vec![
                ("Host", "example.amazonaws.com"),
                ("X-Amz-Date", "20150830T123600Z"),
                ("Authorization", authorization),
                ("User-Agent", "not signed"),
            ],
            body: b"",
        };
        let at = parse_amz_date("20150830T123700Z").unwrap();
        let caller = credentials.verify(&request(authorization), at).unwrap();
        assert_eq!(caller.region, "us-east-1");
        let wrong = authorization.replace("5fa00", "5fa01");
        let refused = credentials.verify(&request(&wrong), at).unwrap_err();
        assert_eq!(refused.code, "InvalidSignatureException");
        let later = parse_amz_date("20150830T124200Z").unwrap();
        let expired = credentials
            .verify(&request(authorization), later)
            .unwrap_err();
        assert!(expired.message.starts_with("Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T124200Z - 5 min.)"), "{}", expired.message);
        let unknown = authorization.replace("AKIDEXAMPLE", "AKIDOTHER");
        assert_eq!(
            credentials.verify(&request(&unknown), at).unwrap_err().code,
            "UnrecognizedClientException"
        );
        let unsigned = Signed {
            headers: vec![("Host", "h")],
            ..request(authorization)
        };
        assert_eq!(
            credentials.verify(&unsigned, at).unwrap_err().code,
            "MissingAuthenticationTokenException"
        );
    }
}
