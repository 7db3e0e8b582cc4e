//! Batches, augmentation, recipes and the pipeline benchmark.

use oodcal::bench::pipeline::bench_pipeline;
use oodcal::data::augment::FineTuneAug;
use oodcal::data::batch::{epoch_order, erm_indices, make_batch, Batch, DomainSampler, Transform};
use oodcal::data::export::export_domainbed;
use oodcal::data::glyph::benchmark::{generate_glyph_dg, GlyphDgSpec};
use oodcal::data::preprocess::{FloatImage, Normalize};
use oodcal::data::recipes::{PretrainAug, Recipe};
use oodcal::data::split::Splits;
use oodcal::data::ImageSet;

fn set() -> ImageSet {
    generate_glyph_dg(&GlyphDgSpec {
        seed: 2,
        per_domain: 56,
        ..GlyphDgSpec::default()
    })
    .expect("generates")
}

fn build(set: &ImageSet, t: &Transform, threads: usize, step: u64) -> Batch {
    let idx: Vec<usize> = (0..24).map(|i| i * 7 % set.len()).collect();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
        .install(|| make_batch(set, &idx, t, 28, Normalize::IMAGENET, 99, step))
}

fn all_transforms() -> Vec<Transform> {
    let mut t = vec![Transform::Eval, Transform::FineTune(FineTuneAug::default())];
    t.extend(
        Recipe::DEFAULTS
            .iter()
            .map(|r| Transform::Pretrain(PretrainAug::new(*r))),
    );
    t
}

#[test]
fn batches_are_deterministic_and_thread_independent() {
    let s = set();
    for t in all_transforms() {
        let a = build(&s, &t, 1, 5);
        assert_eq!(a, build(&s, &t, 3, 5), "{t:?} depends on threads");
        assert_eq!(a.shape, [24, 3, 28, 28]);
        assert_eq!(a.data.len(), 24 * 3 * 28 * 28);
        assert!(a.data.iter().all(|v| v.is_finite()));
        if t != Transform::Eval {
            assert_ne!(a.data, build(&s, &t, 1, 6).data, "{t:?} ignores the step");
        }
    }
}

#[test]
fn eval_transform_is_resize_and_imagenet_normalisation() {
    let s = set();
    let b = make_batch(&s, &[3], &Transform::Eval, 32, Normalize::IMAGENET, 0, 0);
    let img = s.image(3);
    // Pixel (0, 0), red channel, at native size: (v/255 - 0.485) / 0.229.
    let want = (f32::from(img[0]) / 255.0 - 0.485) / 0.229;
    assert!((b.data[0] - want).abs() < 1e-5);
    // Green plane starts after the whole red plane (CHW).
    let want_g = (f32::from(img[1]) / 255.0 - 0.456) / 0.224;
    assert!((b.data[32 * 32] - want_g).abs() < 1e-5);
}

#[test]
fn finetune_augmentation_changes_images_but_keeps_range() {
    let s = set();
    let aug = Transform::FineTune(FineTuneAug::default());
    let a = build(&s, &aug, 2, 0);
    let e = build(&s, &Transform::Eval, 2, 0);
    assert_ne!(a.data, e.data);
    let lo = (0.0 - 0.485) / 0.229 - 1e-4;
    let hi = (1.0 - 0.406) / 0.225 + 1e-4;
    assert!(a.data.iter().all(|&v| v >= lo && v <= hi));
    // Some images of 200 go grey (p = 0.1): all three planes equal.
    let mut grey = 0;
    for step in 0..9 {
        let b = build(&s, &aug, 2, step);
        for img in b.data.chunks_exact(3 * 28 * 28) {
            let (r, rest) = img.split_at(28 * 28);
            let (g, _) = rest.split_at(28 * 28);
            // Equal grey levels normalise differently per channel; compare raw.
            let raw = |v: f32, c: usize| v * [0.229, 0.224, 0.225][c] + [0.485, 0.456, 0.406][c];
            if r.iter()
                .zip(g)
                .all(|(x, y)| (raw(*x, 0) - raw(*y, 1)).abs() < 1e-4)
            {
                grey += 1;
            }
        }
    }
    assert!((5..50).contains(&grey), "{grey} grey of 216");
}

#[test]
fn mixing_recipes_give_soft_targets() {
    let s = set();
    for r in Recipe::DEFAULTS {
        let b = build(&s, &Transform::Pretrain(PretrainAug::new(r)), 2, 1);
        let t = b.soft_targets(7);
        for row in t.chunks_exact(7) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        match r {
            Recipe::Mixup { .. } | Recipe::CutMix { .. } => {
                let m = b.mix.as_ref().expect("mix info");
                assert_eq!(m.len(), 24);
                assert!(m.iter().all(|x| (0.0..=1.0).contains(&x.lambda)));
                assert!(m.iter().any(|x| x.lambda < 0.999), "{r:?} never mixes");
                assert_eq!(m[0].label_b, b.labels[23], "partner is the reversed batch");
            }
            _ => assert!(b.mix.is_none()),
        }
    }
}

#[test]
fn erm_sampling_follows_domainbed_splits() {
    let s = set();
    let splits = Splits::domainbed(&s, 0, 0.2, 0).expect("splits");
    let samplers: Vec<DomainSampler> = splits
        .train_in()
        .into_iter()
        .enumerate()
        .map(|(k, indices)| DomainSampler {
            indices,
            batch_size: 8,
            seed: 1,
            stream: k as u64,
        })
        .collect();
    let step3 = erm_indices(&samplers, 3);
    assert_eq!(step3.len(), 24);
    assert_eq!(step3, erm_indices(&samplers, 3));
    let train_in = splits.train_in();
    for (k, chunk) in step3.chunks(8).enumerate() {
        assert!(
            chunk.iter().all(|i| train_in[k].contains(i)),
            "domain {k} batch leaves its in-split"
        );
        assert!(chunk.iter().all(|&i| usize::from(s.domains[i]) == k + 1));
    }
    let order = epoch_order(&(0..50).collect::<Vec<_>>(), 4, 0);
    assert_ne!(order, epoch_order(&(0..50).collect::<Vec<_>>(), 4, 1));
}

#[test]
fn float_image_resize_keeps_constant_images() {
    let img = FloatImage::from_u8(&[200u8; 10 * 10 * 3], 10, 10);
    let r = img.resized(7, 13);
    assert!(r.data.iter().all(|v| (v - 200.0 / 255.0).abs() < 1e-5));
}

#[test]
fn pipeline_benchmark_runs_on_an_image_folder() {
    let s = set();
    let dir = tempfile::tempdir().expect("tempdir");
    export_domainbed(&s, &dir.path().join("data")).expect("exports");
    let r = bench_pipeline(
        &dir.path().join("data"),
        None,
        32,
        28,
        32,
        &dir.path().join("cache"),
        "glyph",
    )
    .expect("bench");
    assert_eq!(r.images, s.len());
    for v in [
        r.cold_decode_ips,
        r.cached_load_ips,
        r.augment_ips,
        r.cold_epoch_ips,
        r.cached_epoch_ips,
    ] {
        assert!(v.is_finite() && v > 0.0);
    }
}
