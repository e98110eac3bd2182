use super::*;
use crate::workplace::domains;

#[test]
fn csv_defuses_formulas_and_quotes_per_rfc_4180() {
    let bytes = csv_bytes(
        &["name".into(), "note".into()],
        &[
            vec!["=HYPERLINK(\"x\")".into(), "said \"hi\", left".into()],
            vec!["-3".into(), "@me".into()],
        ],
    )
    .unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    assert_eq!(
        text,
        "name,note\r\n\"'=HYPERLINK(\"\"x\"\")\",\"said \"\"hi\"\", left\"\r\n-3,'@me\r\n"
    );
}

#[test]
fn the_longest_run_counts_consecutive_days() {
    assert_eq!(
        longest_run(&[
            "2026-11-01",
            "2026-11-02",
            "2026-11-04",
            "2026-11-05",
            "2026-11-06"
        ]),
        3
    );
    assert_eq!(longest_run(&[]), 0);
}

/// An org of `n` members who logged sleep and movement every day for four weeks and took
/// the WEMWBS once; returns the connection, the org and the first member.
fn org_of(n: usize) -> (Connection, String, String) {
    use crate::workplace::logs::{Person, upsert};
    let (c, org, first) = crate::wellbeing::test_member();
    let mut people = vec![first.clone()];
    for i in 1..n {
        let u = crate::users::store::NewUser {
            org_id: &org,
            email: &format!("m{i}@b.c"),
            password_hash: None,
            role: crate::auth::policy::Role::Member,
            first_name: "M",
            last_name: "N",
            email_verified: true,
        };
        people.push(crate::users::store::insert(&c, &u).unwrap());
    }
    let doms = domains::of_org(&c, &org).unwrap();
    let today = clock::today_in("UTC");
    for (i, id) in people.iter().enumerate() {
        let p = Person {
            id: id.clone(),
            org_id: org.clone(),
            department_id: None,
            today,
        };
        for day in 0..28 {
            let date = crate::wellbeing::days_before(today, day).to_string();
            upsert(
                &c,
                &p,
                &date,
                &doms[0],
                3 + (i as i64 + day) % 6,
                Some("=1+1"),
            )
            .unwrap();
            upsert(&c, &p, &date, &doms[2], 6, None).unwrap();
        }
        c.execute(
            "INSERT INTO wp_assessments (id, org_id, user_id, kind, answers, total, category, taken_at) VALUES (?1, ?2, ?3, 'wemwbs', '[]', 50, 'moderate', ?4)",
            params![uuid::Uuid::now_v7().to_string(), org, id, clock::now()],
        )
        .unwrap();
    }
    (c, org, first)
}

fn report(
    c: &Connection,
    org: &str,
    user: Option<&str>,
    kind: ReportType,
    format: Format,
) -> Vec<u8> {
    let today = clock::today_in("UTC");
    let r = Row {
        id: "r".into(),
        org_id: org.into(),
        kind,
        format,
        from: crate::wellbeing::days_before(today, 27).to_string(),
        to: today.to_string(),
        user_id: user.map(str::to_string),
        requested_by: None,
        status: "pending".into(),
    };
    let bytes = render(c, &Config::default(), &r).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp/reports");
    std::fs::create_dir_all(&dir).unwrap();
    let people: i64 = c
        .query_row("SELECT count(*) AS people FROM users", [], |r| {
            r.get("people")
        })
        .unwrap();
    std::fs::write(
        dir.join(format!("{}-{people}.{}", kind.as_str(), format.as_str())),
        &bytes,
    )
    .unwrap();
    bytes
}

#[test]
fn a_persons_report_holds_their_days_and_a_suggestion() {
    let (c, org, me) = org_of(1);
    let pdf = report(&c, &org, Some(&me), ReportType::UserWeekly, Format::Pdf);
    let text = String::from_utf8_lossy(&pdf);
    assert!(
        pdf.starts_with(b"%PDF-")
            && text.contains("(Sleep (")
            && text.contains("(A suggestion for"),
        "{}",
        &text[..400]
    );
    let csv = String::from_utf8(report(
        &c,
        &org,
        Some(&me),
        ReportType::UserWeekly,
        Format::Csv,
    ))
    .unwrap();
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "date,domain,domain_name,score,note");
    assert_eq!(lines.len(), 1 + 28 * 2);
    assert!(
        csv.contains(",sleep,Sleep,") && csv.contains("'=1+1"),
        "notes are defused"
    );
}

#[test]
fn org_reports_show_figures_only_for_cohorts_of_the_minimum_size() {
    let (c, org, _) = org_of(5);
    let csv =
        String::from_utf8(report(&c, &org, None, ReportType::OrgMonthly, Format::Csv)).unwrap();
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert!(
        lines[0].starts_with(
            "cohort,department_id,suppressed,people,active,participation_rate,avg_sleep"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("Default,,false,5,5,1,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with(",0,5,0,5"),
        "WEMWBS: 5 moderate of 5: {}",
        lines[1]
    );
    let pdf = report(&c, &org, None, ReportType::OrgMonthly, Format::Pdf);
    assert!(String::from_utf8_lossy(&pdf).contains("(5 of 5 people logged at least once (100%).)"));

    let (c, org, _) = org_of(4);
    let csv = String::from_utf8(report(
        &c,
        &org,
        None,
        ReportType::OrgDepartments,
        Format::Csv,
    ))
    .unwrap();
    let row = csv.lines().nth(1).unwrap();
    assert!(row.starts_with("No department,,true,,,,"), "{row}");
    assert!(
        !row.chars().any(|ch| ch.is_ascii_digit()),
        "no figure for 4 people: {row}"
    );
    let pdf = report(&c, &org, None, ReportType::OrgMonthly, Format::Pdf);
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("Not shown: the organization has fewer than 5 people."));
    assert!(!text.contains("people logged at least once"));
}
