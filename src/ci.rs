//! `shiplog ci ...`: the client CI runs against a Shiplog server. It reads
//! `SHIPLOG_URL` and `SHIPLOG_TOKEN`, talks to `/api/v1`, and prints errors
//! in one line. Exit codes: 0 done (gate open), 3 the gate is closed or no
//! build is promotable, 1 the server refused or could not be reached, 2 the
//! command line or settings are wrong.

use clap::Subcommand;
use serde_json::{json, Value};
use std::process::ExitCode;

/// The gate is closed, or nothing can be promoted.
pub const CLOSED: u8 = 3;

#[derive(Subcommand)]
pub enum CiCommand {
    /// Record a build (or, with --id, change one: it passed or failed).
    Build {
        /// Change this build instead of recording a new one.
        #[arg(long)]
        id: Option<i64>,
        /// running, passed or failed.
        #[arg(long)]
        status: String,
        /// The version it builds (required for a new build).
        #[arg(long)]
        version: Option<String>,
        /// The commit built (default: `git rev-parse HEAD`).
        #[arg(long)]
        commit: Option<String>,
        /// The branch (default: `git rev-parse --abbrev-ref HEAD`).
        #[arg(long)]
        branch: Option<String>,
        /// A link to the CI run.
        #[arg(long)]
        url: Option<String>,
        /// Commits it contains: a git revision range, e.g. `v1.2.0..HEAD`.
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        tests_passed: Option<i64>,
        #[arg(long)]
        tests_failed: Option<i64>,
        #[arg(long)]
        tests_skipped: Option<i64>,
    },
    /// Record a deploy; its entries are drafted from the conventional commits
    /// of the range.
    Deploy {
        #[arg(long)]
        environment: String,
        /// The commits it ships: a git revision range, e.g. `v1.2.0..HEAD`.
        #[arg(long)]
        from: String,
        /// The version deployed (default: the commit's short sha).
        #[arg(long)]
        version: Option<String>,
        /// The commit deployed (default: `git rev-parse HEAD`).
        #[arg(long)]
        commit: Option<String>,
        /// started, succeeded, failed or rolled_back (default: succeeded).
        #[arg(long, default_value = "succeeded")]
        status: String,
        /// The build it ships.
        #[arg(long)]
        build: Option<i64>,
    },
    /// Ask whether a deploy may go: exit 0 when the gate is open, 3 when it is
    /// closed (printing every reason).
    Gate {
        #[arg(long)]
        environment: String,
        /// The build to let through.
        #[arg(long)]
        build: Option<i64>,
    },
    /// Print the newest passed build the gate lets through (exit 3 when none,
    /// printing every reason).
    Promotable {
        #[arg(long)]
        environment: String,
        /// Print the build as JSON instead of `<id> <version> <commit>`.
        #[arg(long)]
        json: bool,
    },
}

/// What went wrong, said in one line.
struct Failure {
    code: u8,
    message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

pub async fn run(command: CiCommand) -> ExitCode {
    match run_inner(command).await {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("shiplog: {}", f.message.replace('\n', " "));
            ExitCode::from(f.code)
        }
    }
}

struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    fn from_env() -> Result<Client, Failure> {
        let base = std::env::var("SHIPLOG_URL").map_err(|_| {
            fail(
                2,
                "set SHIPLOG_URL to your Shiplog's address, e.g. https://shiplog.example.com",
            )
        })?;
        let token = std::env::var("SHIPLOG_TOKEN")
            .map_err(|_| fail(2, "set SHIPLOG_TOKEN to an API token (Team > API tokens)"))?;
        let parsed = url::Url::parse(base.trim())
            .map_err(|_| fail(2, format!("SHIPLOG_URL `{base}` is not an address")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(fail(2, "SHIPLOG_URL must start with http:// or https://"));
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .user_agent(concat!("shiplog-ci/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| fail(1, format!("cannot make an HTTP client: {e}")))?;
        Ok(Client {
            base: base.trim().trim_end_matches('/').to_string(),
            token: token.trim().to_string(),
            http,
        })
    }

    /// Sends a request; answers (status, JSON body).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), Failure> {
        let mut request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| {
            fail(
                1,
                format!(
                    "cannot reach {}: {}",
                    self.base,
                    shiplog::server::service::webhooks::error_chain(&e)
                ),
            )
        })?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| fail(1, format!("the answer was cut off: {e}")))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    /// Like `call`, but any answer other than 2xx is a failure saying what
    /// the server said.
    async fn ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let (status, value) = self.call(method, path, body).await?;
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            Err(refused(status, &value))
        }
    }
}

fn refused(status: u16, body: &Value) -> Failure {
    let message = body["error"]["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| body.to_string());
    let field = body["error"]["field"]
        .as_str()
        .map(|f| format!(" ({f})"))
        .unwrap_or_default();
    fail(1, format!("the server answered {status}: {message}{field}"))
}

fn git(args: &[&str]) -> Result<String, Failure> {
    let out = std::process::Command::new("git")
        .args(args)
        .output()
        .map_err(|e| fail(2, format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(fail(
            2,
            format!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The commits of a revision range, oldest first, as the API takes them.
fn commits(range: &str) -> Result<Vec<Value>, Failure> {
    if range.starts_with('-') {
        return Err(fail(2, format!("--from `{range}` is not a revision range")));
    }
    let log = git(&[
        "log",
        "--reverse",
        "--format=%H%x1f%an <%ae>%x1f%aI%x1f%B%x1e",
        range,
        "--",
    ])?;
    Ok(log
        .split('\x1e')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .filter_map(|record| {
            let mut parts = record.splitn(4, '\x1f');
            let sha = parts.next()?.trim();
            let author = parts.next()?.trim();
            let at = parts.next()?.trim();
            let message = parts.next().unwrap_or("").trim();
            Some(json!({
                "sha": sha,
                "message": if message.is_empty() { "(no message)" } else { message },
                "author": author,
                "authored_at": chrono::DateTime::parse_from_rfc3339(at).ok().map(|t| t.to_utc()),
            }))
        })
        .collect())
}

fn head() -> Result<String, Failure> {
    Ok(git(&["rev-parse", "HEAD"])?.trim().to_string())
}

async fn run_inner(command: CiCommand) -> Result<u8, Failure> {
    let client = Client::from_env()?;
    match command {
        CiCommand::Build {
            id,
            status,
            version,
            commit,
            branch,
            url,
            from,
            tests_passed,
            tests_failed,
            tests_skipped,
        } => {
            let tests = (tests_passed.is_some()
                || tests_failed.is_some()
                || tests_skipped.is_some())
            .then(|| {
                json!({"passed": tests_passed.unwrap_or(0), "failed": tests_failed.unwrap_or(0),
                        "skipped": tests_skipped.unwrap_or(0)})
            });
            let build = match id {
                Some(id) => {
                    let mut change = json!({ "status": status });
                    if let Some(url) = url {
                        change["url"] = json!(url);
                    }
                    if let Some(t) = tests {
                        change["tests"] = t;
                    }
                    client
                        .ok(
                            reqwest::Method::PATCH,
                            &format!("/builds/{id}"),
                            Some(change),
                        )
                        .await?
                }
                None => {
                    let version =
                        version.ok_or_else(|| fail(2, "--version is required for a new build"))?;
                    let commit = match commit {
                        Some(c) => c,
                        None => head()?,
                    };
                    let branch = match branch {
                        Some(b) => b,
                        None => git(&["rev-parse", "--abbrev-ref", "HEAD"])?
                            .trim()
                            .to_string(),
                    };
                    let commits = match from.as_deref() {
                        Some(range) => commits(range)?,
                        None => vec![],
                    };
                    let mut body = json!({"version": version, "commit": commit, "branch": branch,
                        "status": status, "url": url, "commits": commits});
                    if let Some(t) = tests {
                        body["tests"] = t;
                    }
                    client
                        .ok(reqwest::Method::POST, "/builds", Some(body))
                        .await?
                }
            };
            println!("{}", build["id"]);
            eprintln!(
                "Build {} is {}.",
                build["version"].as_str().unwrap_or("?"),
                build["status"].as_str().unwrap_or("?")
            );
            Ok(0)
        }
        CiCommand::Deploy {
            environment,
            from,
            version,
            commit,
            status,
            build,
        } => {
            let commit = match commit {
                Some(c) => c,
                None => head()?,
            };
            let version = version.unwrap_or_else(|| commit.chars().take(12).collect());
            let commits = commits(&from)?;
            let mut body = json!({"environment": environment, "version": version, "commit": commit,
                "status": status, "commits": commits});
            if let Some(b) = build {
                body["build_id"] = json!(b);
            }
            let deploy = client
                .ok(reqwest::Method::POST, "/deploys", Some(body))
                .await?;
            println!("{}", deploy["id"]);
            eprintln!(
                "Deploy {} to {} recorded with {} commits and {} entries.",
                version,
                environment,
                commits.len(),
                deploy["entries"].as_array().map_or(0, Vec::len)
            );
            Ok(0)
        }
        CiCommand::Gate { environment, build } => {
            let mut path = format!("/gate?environment={}", encode(&environment));
            if let Some(b) = build {
                path.push_str(&format!("&build={b}"));
            }
            let gate = client.ok(reqwest::Method::GET, &path, None).await?;
            if gate["open"].as_bool() == Some(true) {
                println!("The gate to {environment} is open.");
                Ok(0)
            } else {
                println!("The gate to {environment} is closed:");
                for r in gate["reasons"].as_array().into_iter().flatten() {
                    println!("- {}", r.as_str().unwrap_or_default());
                }
                Ok(CLOSED)
            }
        }
        CiCommand::Promotable { environment, json } => {
            let (status, body) = client
                .call(
                    reqwest::Method::GET,
                    &format!("/builds/promotable?environment={}", encode(&environment)),
                    None,
                )
                .await?;
            match status {
                200 if json => {
                    println!("{body}");
                    Ok(0)
                }
                200 => {
                    println!(
                        "{} {} {}",
                        body["id"],
                        body["version"].as_str().unwrap_or_default(),
                        body["commit"].as_str().unwrap_or_default()
                    );
                    Ok(0)
                }
                409 => {
                    println!("No build can be promoted to {environment}:");
                    for r in body["reasons"].as_array().into_iter().flatten() {
                        println!("- {}", r.as_str().unwrap_or_default());
                    }
                    Ok(CLOSED)
                }
                _ => Err(refused(status, &body)),
            }
        }
    }
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
