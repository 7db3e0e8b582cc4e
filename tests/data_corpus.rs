//! Pre-training corpora: disjoint from glyph-dg, sizes, nesting, diversity.

use oodcal::data::glyph::corpus::{
    corpus_image, generate_corpus, CorpusSize, CorpusSpec, Diversity,
};
use oodcal::data::glyph::corpus_shapes::{corpus_catalogue, iou_any_mirror, silhouette, MAX_IOU};
use oodcal::data::glyph::render::Style;
use oodcal::data::glyph::shapes::{benchmark_shape, GLYPH_DG_CLASSES};

#[test]
fn catalogue_is_large_and_disjoint_from_the_benchmark() {
    let cat = corpus_catalogue();
    assert!(cat.len() >= 200, "only {} corpus classes", cat.len());
    let bench: Vec<Vec<bool>> = (0..GLYPH_DG_CLASSES.len())
        .map(|k| silhouette(&benchmark_shape(k)))
        .collect();
    let sils: Vec<Vec<bool>> = cat.iter().map(|c| silhouette(&c.shape)).collect();
    for (c, s) in cat.iter().zip(&sils) {
        assert!(
            !GLYPH_DG_CLASSES.contains(&c.name.as_str()),
            "{} is a benchmark class",
            c.name
        );
        assert!(
            s.iter().filter(|&&b| b).count() > 20,
            "{} is nearly empty",
            c.name
        );
        for (k, b) in bench.iter().enumerate() {
            let v = iou_any_mirror(b, s);
            assert!(
                v < MAX_IOU,
                "{} looks like {} (IoU {v:.2})",
                c.name,
                GLYPH_DG_CLASSES[k]
            );
        }
    }
    // Corpus classes are also distinct from each other.
    for i in 0..sils.len() {
        for j in 0..i {
            assert!(
                iou_any_mirror(&sils[i], &sils[j]) < MAX_IOU,
                "{} ~ {}",
                cat[i].name,
                cat[j].name
            );
        }
    }
    let mut names: Vec<&str> = cat.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cat.len(), "duplicate class names");
}

#[test]
fn the_disjointness_check_can_fail() {
    // A benchmark shape compared with itself is caught.
    let s = silhouette(&benchmark_shape(4));
    assert!(iou_any_mirror(&s, &s) >= MAX_IOU);
}

#[test]
fn presets_have_the_documented_sizes() {
    let s = CorpusSpec::preset(CorpusSize::S2k, Diversity::Low, 0);
    assert_eq!(
        (s.images, s.classes, s.styles.clone()),
        (2000, 50, vec![Style::Photo])
    );
    let m = CorpusSpec::preset(CorpusSize::M8k, Diversity::Medium, 0);
    assert_eq!((m.images, m.classes, m.styles.len()), (8000, 100, 3));
    let l = CorpusSpec::preset(CorpusSize::L32k, Diversity::High, 0);
    assert_eq!((l.images, l.classes, l.styles.len()), (32000, 200, 5));
    for d in [Diversity::Low, Diversity::Medium, Diversity::High] {
        assert!(
            !d.styles().contains(&Style::Art),
            "the test style stays out of pre-training"
        );
    }
}

#[test]
fn corpora_are_balanced_nested_and_deterministic() {
    let spec = |images| CorpusSpec {
        seed: 11,
        images,
        classes: 20,
        styles: Diversity::High.styles(),
        size: 32,
    };
    let small = generate_corpus(&spec(200)).expect("generates");
    let big = generate_corpus(&spec(400)).expect("generates");
    assert_eq!(small.len(), 200);
    assert_eq!(
        small.pixels[..],
        big.pixels[..small.pixels.len()],
        "bigger corpus extends the smaller"
    );
    assert_eq!(small.labels[..], big.labels[..200]);
    let per_class = small.counts().iter().fold(vec![0; 20], |mut acc, d| {
        for (a, n) in acc.iter_mut().zip(d) {
            *a += n;
        }
        acc
    });
    assert!(per_class.iter().all(|&n| n == 10), "{per_class:?}");
    let per_style: Vec<usize> = small.counts().iter().map(|d| d.iter().sum()).collect();
    assert_eq!(per_style, vec![40; 5]);
    assert_eq!(
        generate_corpus(&spec(200)).expect("again").digest(),
        small.digest()
    );
    let (c, s, i) = spec(200).item(137);
    assert_eq!(
        corpus_image(11, spec(200).styles[s], c, i, 32),
        small.image(137)
    );
    let mut bad = spec(10);
    bad.classes = 10_000;
    assert!(generate_corpus(&bad).is_err());
}
