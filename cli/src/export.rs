//! `sluice export`: the usage ledger of finished UTC days as CSV, the same files the deployed export function
//! writes to S3 (`sluice_core::spend::export`): one file per day under `<out>/spend/dt=YYYY-MM-DD/spend.csv`, or
//! every day to standard output (`--out -`, one header). A line per day on standard error shows progress.
//!
//! With `--url` (after `sluice login`) the days come from a running Sluice's admin API
//! (`/admin/analytics/org/export?from=D&to=D`, one request per day), in the same format and layout.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use sluice_core::spend::csv_export::{COLUMNS, LedgerCsv, day_bounds, object_key};
use sluice_core::spend::export::{day_csv, directory, finished_days};

use crate::StoreArgs;
use crate::remote::Remote;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// First day, YYYY-MM-DD (UTC).
    #[arg(long)]
    from: NaiveDate,
    /// Last day, inclusive; it must be over (yesterday at the latest).
    #[arg(long)]
    to: NaiveDate,
    /// A folder to write `spend/dt=YYYY-MM-DD/spend.csv` files into (the S3 layout), or `-` for all days on
    /// standard output with one header.
    #[arg(long, default_value = "-")]
    out: String,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let days = finished_days(args.from, args.to, chrono::Utc::now().date_naive())
        .map_err(|e| anyhow::anyhow!("cannot export --from {} --to {}: {e}", args.from, args.to))?;
    if let Some(url) = &args.store.url {
        return remote(url, &days, &args.out).await;
    }
    let store = crate::keys::open(&args.store).await?;
    let names = directory(store.as_ref())
        .await
        .context("reading users and teams")?;
    let mut progress = std::io::stderr().lock();
    let total = days.len();
    if args.out == "-" {
        let mut csv = LedgerCsv::new(std::io::BufWriter::new(std::io::stdout().lock()))?;
        for (n, day) in days.iter().enumerate() {
            let (from_ms, to_ms) = day_bounds(*day);
            let records = store
                .usage_between(from_ms, to_ms)
                .await
                .with_context(|| format!("reading the usage of {day}"))?;
            for record in &records {
                csv.write(record, &names)
                    .context("writing to standard output")?;
            }
            report(&mut progress, n + 1, total, *day, records.len() as u64)?;
        }
        let rows = csv.rows();
        csv.finish()
            .and_then(|mut out| out.flush())
            .context("writing to standard output")?;
        writeln!(progress, "{total} day(s), {} row(s)", thousands(rows))?;
    } else {
        let root = PathBuf::from(&args.out);
        let mut rows = 0_u64;
        for (n, day) in days.iter().enumerate() {
            let (body, day_rows) = day_csv(store.as_ref(), &names, *day)
                .await
                .with_context(|| format!("exporting {day}"))?;
            let path = root.join(object_key(*day));
            write_file(&path, &body).with_context(|| format!("cannot write {}", path.display()))?;
            report(&mut progress, n + 1, total, *day, day_rows)?;
            rows += day_rows;
        }
        wrote(total, rows, &root)?;
    }
    Ok(())
}

fn wrote(days: usize, rows: u64, root: &Path) -> std::io::Result<()> {
    writeln!(
        std::io::stdout().lock(),
        "Wrote {days} day file(s), {} row(s), under {}",
        thousands(rows),
        root.join("spend").display()
    )
}

/// The days from a running Sluice, one request each.
async fn remote(url: &str, days: &[NaiveDate], out: &str) -> anyhow::Result<()> {
    let remote = Remote::connect(url)?;
    let header = format!("{}\n", COLUMNS.join(","));
    let mut progress = std::io::stderr().lock();
    let (total, mut rows) = (days.len(), 0_u64);
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    for (n, day) in days.iter().enumerate() {
        let body = remote
            .download(&format!("/admin/analytics/org/export?from={day}&to={day}"))
            .await
            .with_context(|| format!("exporting {day}"))?;
        let Some(day_rows) = body.strip_prefix(&header) else {
            anyhow::bail!(
                "exporting {day}: the answer is not a Sluice ledger CSV (its header differs)"
            );
        };
        let count = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(day_rows.as_bytes())
            .records()
            .try_fold(0_u64, |n, r| r.map(|_| n + 1))
            .with_context(|| format!("exporting {day}: the CSV does not parse"))?;
        if out == "-" {
            if n == 0 {
                stdout.write_all(header.as_bytes())?;
            }
            stdout.write_all(day_rows.as_bytes())?;
        } else {
            let path = PathBuf::from(out).join(object_key(*day));
            write_file(&path, body.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        report(&mut progress, n + 1, total, *day, count)?;
        rows += count;
    }
    stdout.flush().context("writing to standard output")?;
    if out == "-" {
        writeln!(progress, "{total} day(s), {} row(s)", thousands(rows))?;
    } else {
        wrote(total, rows, Path::new(out))?;
    }
    Ok(())
}

/// `day 3/31 2026-11-03: 1,234 rows`
fn report(
    progress: &mut impl Write,
    n: usize,
    total: usize,
    day: NaiveDate,
    rows: u64,
) -> std::io::Result<()> {
    let noun = if rows == 1 { "row" } else { "rows" };
    writeln!(
        progress,
        "day {n}/{total} {day}: {} {noun}",
        thousands(rows)
    )
}

/// The whole file or nothing: written beside the target and renamed over it, so a re-export never leaves a
/// half-written day where a complete one was.
fn write_file(path: &Path, body: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let partial = path.with_extension("csv.partial");
    std::fs::write(&partial, body)?;
    std::fs::rename(&partial, path)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_groups_digits_by_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234), "1,234");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
