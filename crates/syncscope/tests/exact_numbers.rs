//! Numbers round-trip exactly: a double stored by the store and read back from its
//! SQLite text is the same double, bit for bit. (The wire, from a real socket.io-client
//! through acks, reads, pushes and session exports, is proved by
//! tests/e2e/exact-numbers.test.js.)

use serde_json::{Map, Value};
use syncscope::store::{DbLocation, Store, Write};
use syncscope::url::Url;

/// A small xorshift: reproducible "random" bit patterns without a dependency.
struct Bits(u64);

impl Bits {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Like JavaScript's Math.random: 53 random bits in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Any finite double, over the whole exponent range.
    fn any_finite(&mut self) -> f64 {
        loop {
            let x = f64::from_bits(self.next());
            if x.is_finite() {
                return x;
            }
        }
    }
}

#[tokio::test]
async fn random_doubles_read_back_from_the_store_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(DbLocation::File(dir.path().join("n.db")), 10_000)
        .await
        .unwrap();
    let todos = Url::parse("/numbers").unwrap();
    let mut bits = Bits(0x9E37_79B9_7F4A_7C15);
    let mut numbers: Vec<f64> = vec![
        1e308,
        5e-324,
        -5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
        0.1 + 0.2,
        0.36560839638878484,
        9007199254740993.0,
        1e21,
    ];
    numbers.extend((0..1000).map(|_| bits.unit()));
    numbers.extend((0..1000).map(|_| bits.any_finite()));

    let mut wrong = Vec::new();
    for chunk in numbers.chunks(100) {
        let mut data = Map::new();
        for (i, x) in chunk.iter().enumerate() {
            data.insert(format!("n{i}"), Value::from(*x));
        }
        let change = store.write(&todos, Write::Create { data }).await.unwrap();
        let model = store.read_model(&todos, &change.id).await.unwrap().unwrap();
        for (i, x) in chunk.iter().enumerate() {
            let back = model.data[format!("n{i}")].as_f64().unwrap();
            if back.to_bits() != x.to_bits() {
                wrong.push(format!("{x:e} came back as {back:e}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} doubles changed in the store, e.g. {:?}",
        wrong.len(),
        numbers.len(),
        &wrong[..wrong.len().min(5)]
    );
}

#[tokio::test]
async fn large_integers_keep_every_digit_in_the_store() {
    let store = Store::open(DbLocation::Memory, 10_000).await.unwrap();
    let url = Url::parse("/numbers").unwrap();
    let data: Map<String, Value> = serde_json::from_str(
        r#"{"max_safe": 9007199254740991, "u64": 18446744073709551615, "i64": -9223372036854775808, "zero": 0}"#,
    )
    .unwrap();
    let change = store
        .write(&url, Write::Create { data: data.clone() })
        .await
        .unwrap();
    let model = store.read_model(&url, &change.id).await.unwrap().unwrap();
    for (key, value) in &data {
        assert_eq!(&model.data[key], value, "{key}");
    }
}
