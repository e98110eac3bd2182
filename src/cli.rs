//! The `haven` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config};
use crate::db::backup;
use crate::db::lock::DataDirLock;
use crate::users::model::{Role, is_valid_email, normalize_email};
use crate::{bench, logging, server, setup};

#[derive(Parser)]
#[command(
    name = "haven",
    version,
    about = "Haven: a self-hosted client-care platform in one binary"
)]
struct Cli {
    /// Config file (default: ./config.toml when present, else built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrates first, backing up a non-empty database).
    Serve,
    /// Serve Haven filled with sample data for every seed system, printing a sign-in per role.
    Demo {
        /// Keep the data here (made on the first run, served as it is afterwards); without it a
        /// temporary directory is used and removed when the demo stops.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Copy the database to PATH while the server runs, and verify the copy.
    Backup { path: PathBuf },
    /// Replace the database with the backup at PATH (the server must be stopped).
    Restore { path: PathBuf },
    /// Print the OpenAPI document.
    Openapi,
    /// Print a Postman v2.1 collection of the API (or, with --environment, its environment).
    Postman {
        /// Print the environment instead: baseUrl (server.public_url), email and password.
        #[arg(long)]
        environment: bool,
        /// The e-mail address the environment signs in with.
        #[arg(long, default_value = "", requires = "environment")]
        email: String,
    },
    /// Print the database schema the migrations make (SQL), or its entity-relationship diagram.
    Schema {
        /// As a Mermaid `erDiagram`.
        #[arg(long)]
        mermaid: bool,
        /// The diagram as docs/schema.md holds it (with --mermaid).
        #[arg(long, requires = "mermaid")]
        markdown: bool,
    },
    /// List the features and what each is for; with --markdown, the inventory table
    /// ARCHITECTURE.md holds (API paths, pages, jobs, exports, settings of each).
    Features {
        #[arg(long)]
        markdown: bool,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print Litestream's configuration for this database, made from [litestream] (or write it to
    /// --output, readable by its owner only).
    LitestreamConfig {
        #[arg(long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Stored files.
    Files {
        #[command(subcommand)]
        command: FilesCommand,
    },
    /// Move an org between Havens.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// E-mail tools.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Measure group-commit writes and pooled reads against plain rusqlite on this disk.
    BenchDb(bench::BenchArgs),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account (e.g. the first superadmin).
    Create(CreateUser),
}

#[derive(Args)]
struct CreateUser {
    #[arg(long)]
    email: String,
    #[arg(long)]
    password: String,
    #[arg(long, default_value = "member")]
    role: String,
    #[arg(long, default_value = "")]
    first_name: String,
    #[arg(long, default_value = "")]
    last_name: String,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the audit log's hash chain; names the first entry that does not check out.
    Verify,
}

#[derive(Subcommand)]
enum FilesCommand {
    /// Move the files under the data directory into the bucket of [files.s3], each verified by
    /// its SHA-256 before the copy on disk is removed (Haven must be stopped; then set
    /// files.storage = "s3" and start it).
    Migrate {
        #[arg(long, value_enum)]
        to: MigrateTarget,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Write one org (its people, data, files and pending work) to an archive, from one
    /// consistent snapshot (Haven may run; writes after the snapshot are not in it). Prints the
    /// archive's key, which the import needs.
    Export {
        /// The org's id, or its name when no other org has it.
        org: String,
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Add an exported org to this Haven (Haven must be stopped): all of it in one transaction,
    /// or nothing when anything conflicts.
    Import {
        archive: PathBuf,
        /// The key `haven org export` printed.
        #[arg(long)]
        key: String,
    },
    /// Remove an org that moved away (Haven must be stopped): its rows go in one transaction,
    /// its audit entries stay, its pending work is cancelled.
    Remove {
        /// The org's id, or its name when no other org has it.
        org: String,
        /// The org's name, exactly, to say you mean it.
        #[arg(long)]
        confirm: String,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum MigrateTarget {
    S3,
}

#[derive(Subcommand)]
enum MailCommand {
    /// Send a test message through the configured transport now.
    Test {
        #[arg(long)]
        to: String,
    },
}

pub fn main() -> ExitCode {
    crate::memory::tune();
    crate::db::configure_sqlite();
    let cli = Cli::parse();
    let config = match config::load(cli.config.as_deref()) {
        // The demo talks to a person at a terminal: only warnings in the log (on stderr).
        Ok(mut c) if matches!(cli.command, Command::Demo { .. }) => {
            if c.log.level == config::LogConfig::default().level {
                c.log.level = "warn".into();
            }
            c
        }
        Ok(c) => c,
        Err(e) => {
            eprintln!("haven: {e}");
            return ExitCode::from(2);
        }
    };
    let to_stderr = !matches!(cli.command, Command::Serve);
    // Traces are for the server; a one-off command exports none.
    let telemetry = match cli.command {
        Command::Serve | Command::Demo { .. } => config.telemetry.clone(),
        _ => config::TelemetryConfig::default(),
    };
    if let Err(e) = logging::init(&config.log, &telemetry, to_stderr) {
        eprintln!("haven: telemetry.otlp_endpoint: {e}");
        return ExitCode::from(2);
    }
    // server.worker_threads sizes the runtime; blocking threads (database reads, argon2) are
    // capped so a burst cannot grow the process by a thread stack and a malloc arena each.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.server.workers())
        .max_blocking_threads(64)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("haven: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if matches!(cli.command, Command::Serve | Command::Demo { .. })
        && let Err(e) = crate::jobs::background::start(config.server.workers())
    {
        eprintln!("haven: cannot start the background runtime: {e}");
        return ExitCode::FAILURE;
    }
    let outcome = runtime.block_on(run(cli.command, config));
    crate::telemetry::flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "haven failed");
            eprintln!("haven: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => server::serve(config).await,
        Command::Demo { data } => crate::demo::run(config, data).await,
        Command::Migrate => {
            let applied = setup::prepare(&config, true)?;
            if applied.is_empty() {
                println!("the database is up to date");
            } else {
                println!("applied: {}", applied.join(", "));
            }
            Ok(())
        }
        Command::User {
            command: UserCommand::Create(u),
        } => create_user(&config, u).await,
        Command::Backup { path } => {
            setup::prepare(&config, false)?;
            let size = backup::backup(&setup::database_path(&config), &path)?;
            println!(
                "backup written to {} ({size} bytes, integrity check ok)",
                path.display()
            );
            Ok(())
        }
        Command::Restore { path } => restore(&config, &path),
        Command::Openapi => {
            let doc = crate::openapi_document()?;
            println!("{doc}");
            Ok(())
        }
        Command::Postman { environment, email } => {
            use crate::apidocs::postman;
            let out = if environment {
                postman::environment(&config.public_url(), &email, "")
            } else {
                postman::collection(&serde_json::from_str(&crate::openapi_document()?)?)
            };
            print_out(&serde_json::to_string_pretty(&out)?)
        }
        Command::Schema { mermaid, markdown } => {
            use crate::db::diagram;
            let out = match (mermaid, markdown) {
                (true, true) => diagram::document()?,
                (true, false) => diagram::of_migrations()?,
                _ => diagram::sql()?,
            };
            print_out(&out)
        }
        Command::Features { markdown } => {
            let features = crate::app::features();
            print_out(&if markdown {
                features.inventory_markdown()
            } else {
                features.inventory_text()
            })
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => verify_audit(&config),
        Command::Mail {
            command: MailCommand::Test { to },
        } => {
            let mailer = crate::notify::mail::Mailer::from_config(&config)?;
            let email = crate::notify::emails::test_message(&to, "Sent by `haven mail test`.")?;
            mailer
                .send(&email, &uuid::Uuid::now_v7().to_string())
                .await?;
            println!("test message sent to {to}");
            Ok(())
        }
        Command::LitestreamConfig { output } => match output {
            Some(path) => crate::backups::litestream::write(&config, &path),
            None => print_out(&crate::backups::litestream::config_yaml(&config)?),
        },
        Command::Files {
            command: FilesCommand::Migrate {
                to: MigrateTarget::S3,
            },
        } => {
            let moved = crate::files::migrate::to_s3(&config).await?;
            println!(
                "moved {} files ({:.1} MiB) to the bucket, each verified by SHA-256",
                moved.files,
                moved.bytes as f64 / 1_048_576.0
            );
            for (sha, why) in &moved.failed {
                eprintln!("{sha}: {why}");
            }
            if !moved.failed.is_empty() {
                anyhow::bail!(
                    "{} files stay on disk; run again once fixed",
                    moved.failed.len()
                );
            }
            Ok(())
        }
        Command::Org {
            command: OrgCommand::Export { org, output },
        } => {
            let done = crate::orgs::transfer::export::export(&config, &org, &output).await?;
            let m = &done.manifest;
            println!(
                "exported org {} ({}) to {}: {} rows, {} files",
                m.org_name,
                m.org_id,
                output.display(),
                m.rows.values().sum::<u64>(),
                m.files.len()
            );
            for (table, n) in &m.left_out {
                println!(
                    "  {table}: {n} references to people outside the org cleared or rows left out"
                );
            }
            println!(
                "archive key (the import needs it; keep it apart from the file): {}",
                done.key
            );
            Ok(())
        }
        Command::Org {
            command: OrgCommand::Import { archive, key },
        } => {
            let done = crate::orgs::transfer::import::import(&config, &archive, &key).await?;
            println!(
                "imported org {} ({}): {} rows, {} files, {} audit entries added to this Haven's chain",
                done.manifest.org_name,
                done.manifest.org_id,
                done.rows,
                done.manifest.files.len(),
                done.audit_entries
            );
            Ok(())
        }
        Command::Org {
            command: OrgCommand::Remove { org, confirm },
        } => {
            let done = crate::orgs::transfer::remove::remove(&config, &org, &confirm)?;
            println!(
                "removed org {} ({}): {} rows, {} pending jobs cancelled; its audit entries stay",
                done.org_name, done.org_id, done.rows, done.cancelled
            );
            Ok(())
        }
        Command::BenchDb(args) => bench::run(args, config.server.workers()).await,
    }
}

/// Prints a command's output; a closed pipe (`| head`) is not an error worth a panic.
fn print_out(out: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match std::io::Write::write_all(&mut stdout, out.as_bytes()).and_then(|()| {
        match out.ends_with('\n') {
            true => Ok(()),
            false => std::io::Write::write_all(&mut stdout, b"\n"),
        }
    }) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

async fn create_user(config: &Config, u: CreateUser) -> anyhow::Result<()> {
    let role: Role = u.role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let email = normalize_email(&u.email);
    if !is_valid_email(&email) {
        anyhow::bail!("--email: `{}` is not a valid e-mail address", u.email);
    }
    let chars = u.password.chars().count();
    if !(10..=128).contains(&chars) || u.password.to_lowercase() == email {
        anyhow::bail!("--password: must be 10 to 128 characters and not the e-mail address");
    }
    setup::prepare(config, true)?;
    let hash = crate::auth::password::hash_async(u.password).await?;
    let mut conn = crate::db::open_connection(
        &setup::database_path(config),
        config.database.durability,
        false,
    )?;
    // Immediate: the audit chain's last link is read and extended under the write lock, even
    // while a server writes to the same database.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let org = crate::orgs::store::ensure_default(&tx)?;
    let new = crate::users::store::NewUser {
        org_id: &org,
        email: &email,
        password_hash: Some(&hash),
        role,
        first_name: u.first_name.trim(),
        last_name: u.last_name.trim(),
        email_verified: true,
    };
    match crate::users::store::insert(&tx, &new) {
        Ok(id) => {
            crate::audit::record(
                &tx,
                crate::audit::Event::new("user.create", "user")
                    .org(&org)
                    .user(&id)
                    .entity_id(&id)
                    .after(serde_json::json!({ "role": role, "via": "cli" })),
            )?;
            tx.commit()?;
            println!("created {role} {email} ({id})");
            Ok(())
        }
        Err(e) if crate::db::is_unique_violation(&e) => {
            anyhow::bail!("an account with e-mail {email} already exists")
        }
        Err(e) => Err(e.into()),
    }
}

fn verify_audit(config: &Config) -> anyhow::Result<()> {
    setup::prepare(config, false)?;
    let conn = crate::db::open_connection(
        &setup::database_path(config),
        config.database.durability,
        true,
    )?;
    let v = crate::audit::verify(&conn)?;
    match v {
        crate::audit::Verification::Intact { .. } => {
            println!("audit log {}", v.summary());
            Ok(())
        }
        crate::audit::Verification::Broken { ref id, .. } => {
            anyhow::bail!("audit log {} (entry id {id})", v.summary())
        }
    }
}

fn restore(config: &Config, path: &std::path::Path) -> anyhow::Result<()> {
    let _lock = DataDirLock::acquire(&config.data.dir)
        .map_err(|e| anyhow::anyhow!("refusing to restore: {e}"))?;
    backup::integrity_check(path)
        .map_err(|e| anyhow::anyhow!("{} is not a sound database: {e}", path.display()))?;
    let db_path = setup::database_path(config);
    if db_path.exists() {
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let keep = setup::backups_dir(config).join(format!("pre-restore-{stamp}.db"));
        backup::backup(&db_path, &keep)?;
        println!("the current database was saved to {}", keep.display());
    }
    backup::restore(path, &db_path)?;
    println!("restored {} from {}", db_path.display(), path.display());
    Ok(())
}
