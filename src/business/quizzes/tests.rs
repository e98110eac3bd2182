use super::*;
use crate::http::Validate;

#[test]
fn the_built_in_quizzes_load_and_their_bands_cover_every_score() {
    assert_eq!(BUILT_IN.len(), 2);
    for q in BUILT_IN.iter() {
        let body = QuizBody {
            slug: q.slug.clone(),
            title: q.title.clone(),
            description: Some(q.description.clone()),
            questions: q.questions.clone(),
            bands: q.bands.clone(),
            active: Some(true),
        };
        let mut errors = Vec::new();
        body.validate(&mut errors);
        assert!(errors.is_empty(), "{}: {errors:?}", q.slug);
        let low: Vec<String> = q
            .questions
            .iter()
            .map(|x| x.options[0].value.clone())
            .collect();
        let high: Vec<String> = q
            .questions
            .iter()
            .map(|x| x.options[x.options.len() - 1].value.clone())
            .collect();
        assert_eq!(score(q, &low).ok(), Some(0));
        assert_eq!(score(q, &high).ok(), Some(q.max_score()));
    }
}

#[test]
fn answers_that_do_not_fit_are_named() {
    let q = &BUILT_IN[0];
    let mut a: Vec<String> = q
        .questions
        .iter()
        .map(|x| x.options[0].value.clone())
        .collect();
    a[2] = "nonsense".into();
    let e = score(q, &a).err().map(|e| e.code_str());
    assert_eq!(e.as_deref(), Some("QUIZ_INVALID_ANSWERS"));
    assert!(score(q, &[]).is_err());
}
