//! The layer rule of docs/architecture.md, checked on what each crate really links: the normal (non-dev,
//! non-build) dependencies of `cargo tree -p <crate>`, features resolved for that crate alone (as
//! `cargo lambda build -p` builds it), every target platform. A crate that gains a dependency its layer
//! forbids fails here, directly or through any other crate.
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// One row per workspace crate: the crates it must never link, and the ones it still links today that the
/// issue named beside them removes (an exception that no longer holds fails too, so the table only shrinks).
/// A pattern ending in `*` is a prefix; anything else is an exact package name.
struct Layer {
    krate: &'static str,
    forbidden: &'static [&'static str],
    known: &'static [(&'static str, &'static str)],
}

/// The gateway function: the inference routes only, no admin code.
const GATEWAY_FUNCTION: &[&str] = &[
    "sluice-account",
    "sluice-sqlite",
    "rusqlite",
    "sluice-testkit",
    "sluice-bedrock-sim",
];

/// The admin function: the admin API and sign-in only, no inference path.
const ADMIN_FUNCTION: &[&str] = &[
    "sluice-inference",
    "sluice-sqlite",
    "rusqlite",
    "sluice-testkit",
    "sluice-bedrock-sim",
];

/// The function crates that are not HTTP hosts: a stream consumer or a schedule links no web stack.
const NOT_A_WEB_HOST: &[&str] = &[
    "sluice-http",
    "sluice-inference",
    "sluice-account",
    "sluice-sqlite",
    "rusqlite",
    "sluice-testkit",
    "sluice-bedrock-sim",
    "axum*",
    "lambda_http",
    "jsonwebtoken",
    "reqwest",
];

const LAYERS: &[Layer] = &[
    Layer {
        krate: "sluice-core",
        // Pure and deterministic: no I/O runtime (not even tokio's sync parts, none are needed today), no
        // random source (ids and secrets come through the `Ids` port), no adapter, host or SDK crate, no other
        // Sluice crate.
        forbidden: &[
            "sluice-*", "aws-*", "aws_*", "lambda_*", "axum*", "hyper*", "reqwest", "rusqlite",
            "tokio*", "rand*",
        ],
        known: &[],
    },
    Layer {
        krate: "sluice-aws",
        forbidden: &[
            "sluice-http",
            "sluice-inference",
            "sluice-account",
            "sluice-sqlite",
            "sluice-testkit",
            "sluice-bedrock-sim",
            "rusqlite",
            "axum*",
            "lambda_*",
            "aws_lambda_events",
            "jsonwebtoken",
            "reqwest",
        ],
        known: &[],
    },
    Layer {
        krate: "sluice-adapters",
        // Outbound adapters that are not AWS (webhook, file fallback): core, reqwest and tokio, no web host, no
        // Lambda, no AWS SDK, so a stream consumer links them without the web stack.
        forbidden: &[
            "sluice-http",
            "sluice-inference",
            "sluice-account",
            "sluice-aws",
            "sluice-sqlite",
            "sluice-testkit",
            "sluice-bedrock-sim",
            "rusqlite",
            "axum*",
            "lambda_*",
            "aws-sdk-*",
            "aws-config",
            "aws-smithy-*",
            "aws_*",
            "jsonwebtoken",
        ],
        known: &[],
    },
    Layer {
        krate: "sluice-sqlite",
        forbidden: &[
            "sluice-http",
            "sluice-inference",
            "sluice-account",
            "sluice-aws",
            "sluice-testkit",
            "sluice-bedrock-sim",
            "aws-*",
            "aws_*",
            "lambda_*",
            "axum*",
            "hyper*",
            "jsonwebtoken",
            "reqwest",
        ],
        known: &[],
    },
    Layer {
        krate: "sluice-http",
        // The host both routers stand on links neither of them; hosts reach storage and Bedrock through core's
        // ports only.
        forbidden: &[
            "sluice-inference",
            "sluice-account",
            "sluice-aws",
            "sluice-sqlite",
            "sluice-testkit",
            "sluice-bedrock-sim",
            "aws-sdk-*",
            "aws-config",
            "rusqlite",
        ],
        known: &[],
    },
    Layer {
        krate: "sluice-inference",
        // The inference path never links the admin API, so the gateway function holds no admin code.
        forbidden: &[
            "sluice-account",
            "sluice-aws",
            "sluice-sqlite",
            "sluice-testkit",
            "sluice-bedrock-sim",
            "aws-sdk-*",
            "aws-config",
            "rusqlite",
        ],
        known: &[],
    },
    Layer {
        krate: "sluice-account",
        // The admin API and sign-in never link the inference path.
        forbidden: &[
            "sluice-inference",
            "sluice-aws",
            "sluice-sqlite",
            "sluice-testkit",
            "sluice-bedrock-sim",
            "aws-sdk-*",
            "aws-config",
            "rusqlite",
        ],
        known: &[],
    },
    Layer {
        krate: "sluice-bedrock-sim",
        // A stand-alone server: it speaks the wire protocol itself and shares no code with what it tests.
        forbidden: &[
            "sluice-*",
            "aws-sdk-*",
            "aws-config",
            "lambda_*",
            "rusqlite",
            "reqwest",
            "jsonwebtoken",
        ],
        known: &[],
    },
    Layer {
        krate: "sluice-testkit",
        // Adapter crates dev-depend on the testkit, so it may not depend on them.
        forbidden: &[
            "sluice-aws",
            "sluice-adapters",
            "sluice-sqlite",
            "sluice-http",
            "sluice-inference",
            "sluice-account",
            "rusqlite",
            "lambda_*",
        ],
        known: &[],
    },
    Layer {
        krate: "sluice-gateway",
        forbidden: GATEWAY_FUNCTION,
        known: &[],
    },
    Layer {
        krate: "sluice-admin",
        forbidden: ADMIN_FUNCTION,
        known: &[],
    },
    Layer {
        krate: "sluice-spend",
        forbidden: NOT_A_WEB_HOST,
        known: &[],
    },
    Layer {
        krate: "sluice-notify",
        forbidden: NOT_A_WEB_HOST,
        known: &[("reqwest", WEBHOOK_CLIENT)],
    },
    Layer {
        krate: "sluice-export",
        forbidden: NOT_A_WEB_HOST,
        known: &[],
    },
    Layer {
        krate: "sluice",
        // The CLI hosts everything locally; only the test helpers stay out of it.
        forbidden: &["sluice-testkit"],
        known: &[],
    },
];

/// Not a TODO: notify delivers webhooks, and the webhook adapter (`sluice-adapters`) posts them with reqwest.
const WEBHOOK_CLIENT: &str = "the webhook adapter's HTTP client";

fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn cargo(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .arg("--offline")
        .current_dir(workspace_root())
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cargo prints UTF-8")
}

/// Every package `krate` links (itself excluded), as `cargo tree` resolves it for a build of that crate.
fn linked(krate: &str) -> BTreeSet<String> {
    let tree = cargo(&[
        "tree", "-p", krate, "-e", "normal", "--target", "all", "--prefix", "none", "--format",
        "{p}",
    ]);
    tree.lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != krate)
        .map(str::to_owned)
        .collect()
}

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

#[test]
fn every_workspace_crate_has_a_layer_rule() {
    let metadata: serde_json::Value =
        serde_json::from_str(&cargo(&["metadata", "--format-version", "1", "--no-deps"]))
            .expect("metadata JSON");
    let members: BTreeSet<&str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["name"].as_str().expect("package name"))
        .collect();
    let ruled: BTreeSet<&str> = LAYERS.iter().map(|l| l.krate).collect();
    assert_eq!(
        members, ruled,
        "each workspace crate needs one row in LAYERS (and no row without a crate)"
    );
}

#[test]
fn no_crate_links_what_its_layer_forbids() {
    let mut failures = Vec::new();
    for layer in LAYERS {
        let linked = linked(layer.krate);
        for pattern in layer.forbidden {
            let hits: Vec<&str> = linked
                .iter()
                .map(String::as_str)
                .filter(|n| matches(pattern, n))
                .collect();
            let known = layer.known.iter().find(|(p, _)| p == pattern);
            match (hits.is_empty(), known) {
                (false, None) => failures.push(format!(
                    "{} links {hits:?}, which its layer forbids (`{pattern}`); see docs/architecture.md \
                     (`cargo tree -e normal -p {} -i {}` shows the path)",
                    layer.krate, layer.krate, hits[0]
                )),
                (true, Some((_, why))) => failures.push(format!(
                    "{} no longer links `{pattern}`: remove its known exception ({why})",
                    layer.krate
                )),
                _ => {}
            }
        }
        for (pattern, _) in layer.known {
            assert!(
                layer.forbidden.contains(pattern),
                "{}: known exception `{pattern}` is not forbidden",
                layer.krate
            );
        }
    }
    assert!(
        failures.is_empty(),
        "layer rule broken:\n{}",
        failures.join("\n")
    );
}
