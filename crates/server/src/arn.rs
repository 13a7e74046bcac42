//! ARNs and names: building them in AWS's shapes, parsing them, and AWS's name rules.
//!
//! [`Arns`] is also the *scope* a request acts in: the account and region whose resources it
//! creates and sees. Resources are kept by ARN, so isolating accounts and regions is a matter
//! of which ARNs a request may build ([`Arns::state_machine`], ...) and which it may see
//! ([`Arns::owns`]); anything of another scope answers as a resource that does not exist
//! (another region) or `AccessDeniedException` (another account: Step Functions has no
//! resource-based policies, so IAM refuses every cross-account call, [`Arns::authorize`]).

use crate::error::{ApiError, ApiResult};

/// The partition, region and account ARNs are built in: a request's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arns {
    /// The region, e.g. `us-east-1`.
    pub region: String,
    /// The account id, e.g. `123456789012`.
    pub account: String,
}

/// A parsed Step Functions ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arn {
    /// `…:stateMachine:<name>[:<version or alias>]`.
    StateMachine {
        /// The state machine's name.
        name: String,
        /// The version number or alias name, if any.
        qualifier: Option<String>,
    },
    /// `…:execution:<state machine>:<name>`.
    Execution,
    /// `…:express:<state machine>:<name>:<uuid>`.
    Express,
    /// `…:activity:<name>`.
    Activity,
    /// `…:mapRun:<state machine>/<label>:<uuid>`.
    MapRun,
}

impl Arns {
    /// The scope a Step Functions ARN belongs to (its region and account), if it is one.
    pub fn of(arn: &str) -> Option<Arns> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(_), Some("states"), Some(region), Some(account), Some(_)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        (!region.is_empty() && !account.is_empty()).then(|| Arns {
            region: region.to_string(),
            account: account.to_string(),
        })
    }

    /// The prefix of every ARN: `arn:aws:states:<region>:<account>`.
    pub fn prefix(&self) -> String {
        format!("arn:aws:states:{}:{}", self.region, self.account)
    }

    /// Whether `arn` names something of this scope (its partition, region and account).
    /// Lookups by a request's ARN ask this first, so another scope's resource answers as one
    /// that does not exist.
    pub fn owns(&self, arn: &str) -> bool {
        arn.strip_prefix("arn:aws:states:")
            .and_then(|rest| rest.strip_prefix(self.region.as_str()))
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|rest| rest.strip_prefix(self.account.as_str()))
            .is_some_and(|rest| rest.starts_with(':'))
    }

    /// IAM's answer to `operation` on a Step Functions ARN of another account:
    /// `AccessDeniedException`, as Step Functions supports no resource-based policy that could
    /// allow it. ARNs of this account, and text that is no Step Functions ARN (the operation
    /// answers `InvalidArn` for it), pass.
    pub fn authorize(&self, operation: &str, arn: &str) -> ApiResult<()> {
        match Arns::of(arn) {
            Some(scope) if scope.account != self.account => Err(ApiError::new(
                "AccessDeniedException",
                format!(
                    "User: arn:aws:iam::{}:root is not authorized to perform: states:{operation} \
                     on resource: {arn} because no resource-based policy allows the \
                     states:{operation} action",
                    self.account
                ),
            )),
            _ => Ok(()),
        }
    }

    /// An activity's ARN.
    pub fn activity(&self, name: &str) -> String {
        format!("{}:activity:{name}", self.prefix())
    }

    /// A state machine's ARN.
    pub fn state_machine(&self, name: &str) -> String {
        format!("{}:stateMachine:{name}", self.prefix())
    }

    /// A Standard execution's ARN.
    pub fn execution(&self, state_machine_name: &str, name: &str) -> String {
        format!("{}:execution:{state_machine_name}:{name}", self.prefix())
    }

    /// An Express execution's ARN.
    pub fn express(&self, state_machine_name: &str, name: &str, uuid: &str) -> String {
        format!(
            "{}:express:{state_machine_name}:{name}:{uuid}",
            self.prefix()
        )
    }
}

/// Parses a Step Functions ARN of any region and account; `InvalidArn` if it is not one.
pub fn parse(arn: &str) -> ApiResult<Arn> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    if parts.len() < 7
        || parts[0] != "arn"
        || parts[1].is_empty()
        || parts[2] != "states"
        || parts[3].is_empty()
        || parts[4].is_empty()
        || parts[6].is_empty()
    {
        return Err(ApiError::invalid_arn(arn));
    }
    let rest = parts[6];
    let pieces: Vec<&str> = rest.split(':').collect();
    match parts[5] {
        "stateMachine" if pieces.len() <= 2 && pieces.iter().all(|p| !p.is_empty()) => {
            Ok(Arn::StateMachine {
                name: pieces[0].to_string(),
                qualifier: pieces.get(1).map(|q| q.to_string()),
            })
        }
        "execution" if pieces.len() == 2 => Ok(Arn::Execution),
        "express" if pieces.len() == 3 => Ok(Arn::Express),
        "activity" if pieces.len() == 1 => Ok(Arn::Activity),
        "mapRun" => Ok(Arn::MapRun),
        _ => Err(ApiError::invalid_arn(arn)),
    }
}

/// The store id of the execution a Map Run ARN names (`…:mapRun:<machine>/<label>:<uuid>`;
/// see `steppe_engine::map_run`), if its UUID is one steppe made. The Map Run may still not
/// exist: look for it in that execution.
pub fn map_run_execution_id(map_run_arn: &str) -> Option<u64> {
    steppe_engine::map_run::execution_id_of(map_run_arn)
}

/// The ARN of child `slot` (an item, or a batch) of the `ordinal`th Map Run of an execution:
/// `…:execution:<machine>/<label>:<name>`, whose name is UUID-shaped: the Map Run UUID's
/// first half (which names the parent execution), then the ordinal and the slot.
pub fn map_run_child(map_run_arn: &str, ordinal: usize, slot: usize) -> Option<String> {
    steppe_engine::map_run::child_execution_arn(map_run_arn, ordinal, slot)
}

/// What a Map Run child's execution ARN ([`map_run_child`]) names: the parent execution's
/// store id, the Map Run's ordinal and the child's slot. `None` for any other execution ARN.
pub fn parse_map_run_child(execution_arn: &str) -> Option<(u64, usize, usize)> {
    let (head, name) = execution_arn.rsplit_once(':')?;
    let (_, machine_and_label) = head.split_once(":execution:")?;
    if !machine_and_label.contains('/') {
        return None;
    }
    let execution_id = map_run_execution_id(name)?;
    let mut groups = name.rsplit('-');
    let slot = usize::from_str_radix(groups.next()?, 16).ok()?;
    let ordinal = usize::from_str_radix(groups.next()?, 16).ok()?;
    Some((execution_id, ordinal, slot))
}

/// Whether `name` is a valid state machine, execution or activity name: 1 to 80 characters,
/// none of them whitespace, brackets, wildcards, ``" # % \ ^ | ~ ` $ & , ; : /`` or control
/// characters.
pub fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=80).contains(&n)
        && name.chars().all(|c| {
            !c.is_whitespace()
                && !"<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)
                && !matches!(c as u32, 0x00..=0x1F | 0x7F..=0x9F | 0xFFFE | 0xFFFF)
        })
}

/// Checks a name, answering `InvalidName` in AWS's wording.
pub fn check_name(name: &str) -> ApiResult<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::invalid_name(name))
    }
}

/// Whether `name` is a valid alias name: `^(?=.*[a-zA-Z_\-\.])[a-zA-Z0-9_\-\.]+$`, 1 to 80.
pub fn valid_alias_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && name
            .chars()
            .any(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_aws_rules() {
        for good in ["a", "order-42", "Ünïcode", "x.y_z", &"n".repeat(80)] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "a\tb",
            "a[b",
            "a{b",
            "a?b",
            "a*b",
            "a\"b",
            "a#b",
            "a%b",
            "a\\b",
            "a^b",
            "a|b",
            "a~b",
            "a`b",
            "a$b",
            "a&b",
            "a,b",
            "a;b",
            "a:b",
            "a/b",
            "a\u{1f}b",
            "a\u{7f}b",
            &"n".repeat(81),
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn alias_names_need_a_letter_or_symbol() {
        assert!(valid_alias_name("prod"));
        assert!(valid_alias_name("v1.2"));
        assert!(!valid_alias_name("12"));
        assert!(!valid_alias_name("a b"));
    }

    #[test]
    fn a_scope_owns_only_its_own_partition_region_and_account() {
        let east = Arns {
            region: "us-east-1".into(),
            account: "123456789012".into(),
        };
        let west = Arns {
            region: "eu-west-1".into(),
            ..east.clone()
        };
        let machine = east.state_machine("m");
        assert!(east.owns(&machine) && !west.owns(&machine));
        assert_eq!(Arns::of(&machine), Some(east.clone()));
        assert_eq!(Arns::of(&west.activity("a")), Some(west.clone()));
        for other in [
            "arn:aws:states:us-east-12:123456789012:stateMachine:m",
            "arn:aws:states:us-east-1:1234567890123:stateMachine:m",
            "arn:aws-cn:states:us-east-1:123456789012:stateMachine:m",
            "arn:aws:states:us-east-1:123456789012",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "m",
        ] {
            assert!(!east.owns(other), "{other}");
        }
        for not_an_arn in [
            "",
            "arn:aws:states:::stateMachine:m",
            "arn:aws:iam::1:role/r",
        ] {
            assert_eq!(Arns::of(not_an_arn), None, "{not_an_arn}");
        }
    }

    #[test]
    fn another_accounts_arn_is_denied_as_iam_denies_it() {
        let scope = Arns {
            region: "us-east-1".into(),
            account: "111111111111".into(),
        };
        let foreign = "arn:aws:states:eu-west-1:222222222222:stateMachine:m";
        let denied = scope
            .authorize("DescribeStateMachine", foreign)
            .unwrap_err();
        assert_eq!(denied.code, "AccessDeniedException");
        assert_eq!(
            denied.message,
            "User: arn:aws:iam::111111111111:root is not authorized to perform: \
             states:DescribeStateMachine on resource: \
             arn:aws:states:eu-west-1:222222222222:stateMachine:m because no resource-based \
             policy allows the states:DescribeStateMachine action"
        );
        for passes in [
            "arn:aws:states:eu-west-1:111111111111:stateMachine:m",
            "arn:aws:iam::222222222222:role/r",
            "not an arn",
        ] {
            assert!(scope.authorize("X", passes).is_ok(), "{passes}");
        }
    }

    #[test]
    fn parses_arns() {
        let arns = Arns {
            region: "us-east-1".into(),
            account: "123456789012".into(),
        };
        assert_eq!(
            parse(&arns.state_machine("m")).unwrap(),
            Arn::StateMachine {
                name: "m".into(),
                qualifier: None
            }
        );
        assert_eq!(
            parse(&format!("{}:7", arns.state_machine("m"))).unwrap(),
            Arn::StateMachine {
                name: "m".into(),
                qualifier: Some("7".into())
            }
        );
        assert_eq!(parse(&arns.execution("m", "e")).unwrap(), Arn::Execution);
        assert_eq!(parse(&arns.express("m", "e", "u")).unwrap(), Arn::Express);
        for bad in [
            "",
            "arn",
            "arn:aws:states:::stateMachine:m",
            "arn:aws:s3:r:a:stateMachine:m",
            "arn:aws:states:r:a:stateMachine:",
        ] {
            assert_eq!(parse(bad).unwrap_err().code, "InvalidArn", "{bad}");
        }
    }
}
