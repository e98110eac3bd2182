use super::*;

#[test]
fn masks_cover_exactly_the_days_of_the_span() {
    let span = |from: &str, to: &str| Span {
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
    };
    assert_eq!(
        span("2026-12-30", "2027-01-02").year_masks(),
        vec![
            ("2026".to_string(), [0, 0, 0, 0, 0, (1 << 43) | (1 << 44)]),
            ("2027".to_string(), [0b11, 0, 0, 0, 0, 0])
        ]
    );
    // The 64th day of the year is the sign bit of the first word.
    assert_eq!(
        span("2026-03-05", "2026-03-06").year_masks(),
        vec![("2026".to_string(), [i64::MIN, 1, 0, 0, 0, 0])]
    );
    let year = span("2028-01-01", "2028-12-31").year_masks();
    assert_eq!(year[0].1, [-1, -1, -1, -1, -1, (1 << 46) - 1]);
}

/// Whole weeks and edge days cover each day of any span exactly once.
#[test]
fn whole_weeks_and_edges_partition_the_span() {
    let start: Date = "2026-11-01".parse().unwrap();
    let day = |n: i64| start.checked_add(jiff::Span::new().days(n)).unwrap();
    for a in 0..30 {
        for len in 0..40 {
            let span = Span {
                from: day(a),
                to: day(a + len),
            };
            let (w1, w2, e1, e2) = span.whole_weeks();
            for n in a..=a + len {
                let d = day(n);
                let in_week =
                    w1 <= w2 && d >= w1 && d <= w2.checked_add(jiff::Span::new().days(6)).unwrap();
                let at_edge = (d >= span.from && d <= e1) || (d >= e2 && d <= span.to);
                assert!(in_week != at_edge, "{span:?} {d}");
            }
            assert_eq!(w1.weekday(), jiff::civil::Weekday::Monday);
        }
    }
}

/// Every table the triggers keep equals what its definition computes from the logs, after
/// a few hundred random creations, changes, moves and deletions.
#[test]
fn the_trigger_kept_tables_match_the_logs_after_random_edits() {
    use crate::workplace::logs::{Person, delete, upsert};
    use rand::{Rng, SeedableRng};
    let (c, org, first) = crate::wellbeing::test_member();
    let mut people = vec![first];
    for i in 0..3 {
        people.push(
            crate::users::store::insert(
                &c,
                &crate::users::store::NewUser {
                    org_id: &org,
                    email: &format!("p{i}@b.c"),
                    password_hash: None,
                    role: crate::auth::policy::Role::Member,
                    first_name: "P",
                    last_name: "Q",
                    email_verified: true,
                },
            )
            .unwrap(),
        );
    }
    let doms = crate::workplace::domains::of_org(&c, &org).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let today: Date = "2027-01-15".parse().unwrap();
    for _ in 0..400 {
        let who = &people[rng.random_range(0..people.len())];
        let dept = ["", "d1", "d2"][rng.random_range(0..3)];
        let p = Person {
            id: who.clone(),
            org_id: org.clone(),
            department_id: (!dept.is_empty()).then(|| dept.to_string()),
            today,
        };
        let day = days_before(today, rng.random_range(0..40)).to_string();
        let d = &doms[rng.random_range(0..3)];
        match rng.random_range(0..4) {
            0 | 1 => {
                upsert(&c, &p, &day, d, rng.random_range(1..=10), None).unwrap();
            }
            2 => {
                let id: Option<String> = c
                    .query_row(
                        "SELECT id FROM wp_logs WHERE user_id = ?1 ORDER BY random() LIMIT 1",
                        [who],
                        |r| r.get("id"),
                    )
                    .ok();
                if let Some(id) = id {
                    delete(&c, who, &id).unwrap();
                }
            }
            _ => {
                // A move to another day (ignored when that day is taken).
                let _ = c.execute(
                    "UPDATE wp_logs SET date = ?2 WHERE id = (SELECT id FROM wp_logs WHERE user_id = ?1 ORDER BY random() LIMIT 1)",
                    params![who, day],
                );
            }
        }
    }
    let same = |kept: &str, computed: &str| {
        let diff: i64 = c
            .query_row(
                &format!(
                    "SELECT (SELECT count(*) FROM (SELECT * FROM ({kept}) EXCEPT SELECT * FROM ({computed})))
                          + (SELECT count(*) FROM (SELECT * FROM ({computed}) EXCEPT SELECT * FROM ({kept})))
                          + (SELECT count(*) = 0 FROM ({kept})) AS differ"
                ),
                [],
                |r| r.get("differ"),
            )
            .unwrap();
        assert_eq!(diff, 0, "{kept}");
    };
    let week = "date(date, '-6 days', 'weekday 1')";
    same(
        "SELECT user_id, kind, start, domain_id, total, n FROM wp_user_periods WHERE kind = 'w'",
        &format!(
            "SELECT user_id, 'w', {week}, domain_id, sum(score), count(*) FROM wp_logs GROUP BY 1, 3, 4"
        ),
    );
    same(
        "SELECT org_id, department_id, date, domain_id, total, n FROM wp_dept_days",
        "SELECT org_id, coalesce(department_id, ''), date, domain_id, sum(score), count(*) FROM wp_logs GROUP BY 1, 2, 3, 4",
    );
    let day = "(CAST(strftime('%j', date) AS INTEGER) - 1)";
    let words: Vec<String> = (0..6)
        .map(|w| {
            format!("sum(DISTINCT CASE WHEN {day} / 64 = {w} THEN 1 << ({day} % 64) ELSE 0 END)")
        })
        .collect();
    same(
        "SELECT org_id, year, user_id, w0, w1, w2, w3, w4, w5 FROM wp_user_years",
        &format!(
            "SELECT org_id, substr(date, 1, 4), user_id, {} FROM wp_logs GROUP BY 1, 2, 3",
            words.join(", ")
        ),
    );
    same(
        "SELECT org_id, week, department_id, domain_id, total, n FROM wp_dept_week_sums",
        &format!(
            "SELECT org_id, {week}, coalesce(department_id, ''), domain_id, sum(score), count(*) FROM wp_logs GROUP BY 1, 2, 3, 4"
        ),
    );
    same(
        "SELECT org_id, week, user_id, days FROM wp_user_weeks",
        &format!(
            "SELECT org_id, {week}, user_id, sum(DISTINCT 1 << CAST(strftime('%w', date) AS INTEGER)) FROM wp_logs GROUP BY 1, 2, 3"
        ),
    );
    same(
        "SELECT org_id, week, department_id, loggers FROM wp_dept_weeks",
        "SELECT org_id, week, department_id, count(*) FROM wp_user_weeks GROUP BY 1, 2, 3",
    );
    // People moved, suspended, removed and erased: the head counts follow.
    c.execute(
        "UPDATE users SET department_id = 'd1' WHERE id = ?1",
        [&people[1]],
    )
    .unwrap();
    c.execute(
        "UPDATE users SET status = 'suspended' WHERE id = ?1",
        [&people[2]],
    )
    .unwrap();
    c.execute(
        "UPDATE users SET deleted_at = '2026-12-01T00:00:00.000Z' WHERE id = ?1",
        [&people[3]],
    )
    .unwrap();
    c.execute(
        "UPDATE users SET role = 'partner' WHERE id = ?1",
        [&people[0]],
    )
    .unwrap();
    c.execute(
        "UPDATE users SET role = 'member', department_id = 'd2' WHERE id = ?1",
        [&people[0]],
    )
    .unwrap();
    c.execute("DELETE FROM users WHERE id = ?1", [&people[2]])
        .unwrap();
    same(
        "SELECT org_id, department_id, people FROM wp_dept_people WHERE people <> 0",
        "SELECT org_id, coalesce(department_id, ''), count(*) FROM users
         WHERE deleted_at IS NULL AND status = 'active' AND role NOT IN ('superadmin', 'partner') GROUP BY 1, 2",
    );
}

/// Every result knows when its person's next was taken, whatever order they arrive and
/// leave in (ties on the instant decided by id), and the latest results' counts per
/// department, day and category stay equal to their definition.
#[test]
fn each_assessment_knows_its_persons_next_one() {
    use rand::{Rng, SeedableRng};
    let (c, org, first) = crate::wellbeing::test_member();
    let second = crate::users::store::insert(
        &c,
        &crate::users::store::NewUser {
            org_id: &org,
            email: "second@b.c",
            password_hash: None,
            role: crate::auth::policy::Role::Member,
            first_name: "S",
            last_name: "B",
            email_verified: true,
        },
    )
    .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for i in 0..400 {
        let user = if rng.random_bool(0.5) {
            &first
        } else {
            &second
        };
        match rng.random_range(0..8) {
            0 | 1 => {
                c.execute(
                    "DELETE FROM wp_assessments WHERE id = (SELECT id FROM wp_assessments ORDER BY random() LIMIT 1)",
                    [],
                )
                .unwrap();
            }
            2 => {
                // A result moved to another department (as an erasure or a fix might).
                c.execute(
                    "UPDATE wp_assessments SET department_id = ?1 WHERE id = (SELECT id FROM wp_assessments ORDER BY random() LIMIT 1)",
                    [["d1", "d2"][rng.random_range(0..2)]],
                )
                .unwrap();
            }
            _ => {
                let at = format!("2026-11-{:02}T10:00:00.000Z", rng.random_range(1..=20));
                let category = ["low", "moderate", "high"][rng.random_range(0..3)];
                let department = [None, Some("d1"), Some("d2")][rng.random_range(0..3)];
                c.execute(
                    "INSERT INTO wp_assessments (id, org_id, user_id, department_id, kind, answers, total, category, taken_at)
                     VALUES (?1, ?2, ?3, ?4, 'wemwbs', '[]', 50, ?5, ?6)",
                    params![format!("a{:03}", rng.random_range(0..1000) * 1000 + i), org, user, department, category, at],
                )
                .unwrap();
            }
        }
        let wrong: i64 = c
            .query_row(
                "SELECT count(*) AS wrong FROM wp_assessments a WHERE a.next_taken_at IS NOT (
                     SELECT min(b.taken_at) FROM wp_assessments b WHERE b.user_id = a.user_id
                     AND (b.taken_at > a.taken_at OR (b.taken_at = a.taken_at AND b.id > a.id)))",
                [],
                |r| r.get("wrong"),
            )
            .unwrap();
        let kept =
            "SELECT org_id, department_id, day, category, n FROM wp_wemwbs_latest WHERE n <> 0";
        let computed = "SELECT org_id, coalesce(department_id, ''), substr(taken_at, 1, 10), category, count(*)
                        FROM wp_assessments WHERE next_taken_at IS NULL GROUP BY 1, 2, 3, 4";
        let differ: i64 = c
            .query_row(
                &format!(
                    "SELECT (SELECT count(*) FROM (SELECT * FROM ({kept}) EXCEPT SELECT * FROM ({computed})))
                          + (SELECT count(*) FROM (SELECT * FROM ({computed}) EXCEPT SELECT * FROM ({kept}))) AS differ"
                ),
                [],
                |r| r.get("differ"),
            )
            .unwrap();
        assert_eq!((wrong, differ), (0, 0), "after step {i}");
    }
    let latest: i64 = c
        .query_row(
            "SELECT count(*) AS latest FROM wp_assessments WHERE next_taken_at IS NULL",
            [],
            |r| r.get("latest"),
        )
        .unwrap();
    assert_eq!(latest, 2);
}
