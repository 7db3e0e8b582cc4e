//! DomainBed split reimplementation against numpy-generated reference values
//! (tests/fixtures/data_numpy_split.json, from scripts/numpy_split_fixture.py).

use oodcal::data::numpy_rng::numpy_shuffled_range;
use oodcal::data::seed_hash::domainbed_seed_hash;
use oodcal::data::split::{domainbed_split, Splits};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/data_numpy_split.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn keys_digest(keys: &[usize]) -> String {
    let s: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    hex::encode(Sha256::digest(s.join(",").as_bytes()))
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("int") as usize)
        .collect()
}

#[test]
fn seed_hash_matches_domainbed() {
    for case in fixture()["seed_hash"].as_array().expect("cases") {
        let a = case["args"][0].as_u64().expect("a");
        let b = case["args"][1].as_u64().expect("b");
        assert_eq!(
            u64::from(domainbed_seed_hash(a, b)),
            case["value"].as_u64().expect("v"),
            "seed_hash({a}, {b})"
        );
    }
}

#[test]
fn shuffle_matches_numpy_random_state() {
    for case in fixture()["shuffles"].as_array().expect("cases") {
        let n = case["n"].as_u64().expect("n") as usize;
        let seed = case["seed"].as_u64().expect("seed") as u32;
        let keys = numpy_shuffled_range(n, seed);
        let head = usizes(&case["keys"]);
        assert_eq!(&keys[..head.len()], &head[..], "n={n} seed={seed}");
        assert_eq!(
            keys_digest(&keys),
            case["sha256"].as_str().expect("sha"),
            "n={n} seed={seed}"
        );
    }
}

#[test]
fn pacs_sized_splits_match_domainbed() {
    for case in fixture()["splits"].as_array().expect("cases") {
        let n = case["n"].as_u64().expect("n") as usize;
        let t = case["trial_seed"].as_u64().expect("t");
        let e = case["env_i"].as_u64().expect("e");
        let seed = domainbed_seed_hash(t, e);
        assert_eq!(u64::from(seed), case["seed"].as_u64().expect("seed"));
        let (out, inn) = domainbed_split(n, case["holdout_fraction"].as_f64().expect("f"), seed);
        assert_eq!(out.len() as u64, case["out_len"].as_u64().expect("len"));
        assert_eq!(out[..12], usizes(&case["out_head"])[..]);
        assert_eq!(inn[..12], usizes(&case["in_head"])[..]);
        assert_eq!(keys_digest(&out), case["out_sha256"].as_str().expect("sha"));
        assert_eq!(keys_digest(&inn), case["in_sha256"].as_str().expect("sha"));
    }
}

#[test]
fn splits_partition_each_domain_and_serialise() {
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let s = Splits::from_sizes(&names, &[10, 7, 5], 1, 0.2, 0).expect("valid");
    assert_eq!(s.offsets, vec![0, 10, 17]);
    for (d, ds) in s.domains.iter().enumerate() {
        let mut all: Vec<usize> = ds.in_idx.iter().chain(&ds.out_idx).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..ds.size).collect::<Vec<_>>(), "domain {d}");
        assert_eq!(ds.out_idx.len(), (ds.size as f64 * 0.2) as usize);
    }
    assert_eq!(s.train_domains(), vec![0, 2]);
    let (ti, to) = s.test_in_out();
    assert!(ti.iter().chain(&to).all(|&i| (10..17).contains(&i)));
    assert!(s.train_in()[1].iter().all(|&i| (17..22).contains(&i)));
    let back = Splits::from_json(&s.to_json()).expect("round trip");
    assert_eq!(back, s);
    assert_eq!(back.digest(), s.digest());
    let other = Splits::from_sizes(&names, &[10, 7, 5], 1, 0.2, 1).expect("valid");
    assert_ne!(other.digest(), s.digest(), "trial seed changes the splits");
    assert!(Splits::from_sizes(&names, &[10, 7, 5], 3, 0.2, 0).is_err());
}
