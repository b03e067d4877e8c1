//! `class_weight` as scikit-learn's classifiers take it: none, `"balanced"`,
//! `"balanced_subsample"` or a table of class label to weight. One type for every estimator; each
//! estimator's validation refuses what it cannot use (an SVC has no bootstrap samples, so no
//! `"balanced_subsample"`) and the weights out of its range.
//!
//! Job files and JSON spell it as scikit-learn does, with `"none"` for None (TOML has no null);
//! None is written as null (omitted in TOML). Binary formats (bincode, MessagePack between ranks)
//! use a tagged form, since bincode cannot tell a string from a table on its own.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

/// Per-class weights (`class_weight`).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ClassWeight {
    /// Every class weighs 1.
    #[default]
    None,
    /// Class c weighs `n_samples / (n_classes * count(c))` on the whole training set.
    Balanced,
    /// The same, computed on each tree's bootstrap sample (random forests only).
    BalancedSubsample,
    /// Weight per class label (`Dataset::classes` names); classes not named weigh 1. Labels are
    /// checked against the training classes before fitting.
    Map(BTreeMap<String, f64>),
}

/// The shape binary formats use.
#[derive(Serialize, Deserialize)]
enum ClassWeightBinary {
    None,
    Balanced,
    BalancedSubsample,
    Map(BTreeMap<String, f64>),
}

impl Serialize for ClassWeight {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return match self {
                ClassWeight::None => ClassWeightBinary::None,
                ClassWeight::Balanced => ClassWeightBinary::Balanced,
                ClassWeight::BalancedSubsample => ClassWeightBinary::BalancedSubsample,
                ClassWeight::Map(m) => ClassWeightBinary::Map(m.clone()),
            }
            .serialize(serializer);
        }
        match self {
            ClassWeight::None => serializer.serialize_none(),
            ClassWeight::Balanced => serializer.serialize_str("balanced"),
            ClassWeight::BalancedSubsample => serializer.serialize_str("balanced_subsample"),
            ClassWeight::Map(m) => {
                let mut out = serializer.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    out.serialize_entry(k, v)?;
                }
                out.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for ClassWeight {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            return Ok(match ClassWeightBinary::deserialize(deserializer)? {
                ClassWeightBinary::None => ClassWeight::None,
                ClassWeightBinary::Balanced => ClassWeight::Balanced,
                ClassWeightBinary::BalancedSubsample => ClassWeight::BalancedSubsample,
                ClassWeightBinary::Map(m) => ClassWeight::Map(m),
            });
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ClassWeight;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "\"none\", \"balanced\", \"balanced_subsample\" or a table of class label to weight",
                )
            }
            fn visit_unit<E: de::Error>(self) -> Result<ClassWeight, E> {
                Ok(ClassWeight::None)
            }
            fn visit_none<E: de::Error>(self) -> Result<ClassWeight, E> {
                Ok(ClassWeight::None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<ClassWeight, D::Error> {
                ClassWeight::deserialize(d)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ClassWeight, E> {
                match v {
                    "none" | "None" => Ok(ClassWeight::None),
                    "balanced" => Ok(ClassWeight::Balanced),
                    "balanced_subsample" => Ok(ClassWeight::BalancedSubsample),
                    other => Err(E::custom(format!(
                        "class_weight: unknown preset \"{other}\" (expected \"none\", \"balanced\", \
                         \"balanced_subsample\" or a table of class label to weight)"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<ClassWeight, A::Error> {
                let mut map = BTreeMap::new();
                while let Some((key, weight)) = access.next_entry::<Label, Weight>()? {
                    map.insert(key.0, weight.0);
                }
                Ok(ClassWeight::Map(map))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A class label key: a string, or an integer written as a string (JSON keys, TOML bare keys).
struct Label(String);

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Label;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a class label")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Label, E> {
                Ok(Label(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Label, E> {
                Ok(Label(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Label, E> {
                Ok(Label(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A weight written as an integer or a float.
struct Weight(f64);

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Weight;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Weight, E> {
                Ok(Weight(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Weight, E> {
                Ok(Weight(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Weight, E> {
                Ok(Weight(v as f64))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(default)]
        class_weight: ClassWeight,
    }

    fn map(pairs: &[(&str, f64)]) -> ClassWeight {
        ClassWeight::Map(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
    }

    #[test]
    fn reads_sklearns_spellings() {
        let read = |text: &str| toml::from_str::<Holder>(text).map(|h| h.class_weight);
        assert_eq!(read("").unwrap(), ClassWeight::None);
        assert_eq!(read("class_weight = 'none'").unwrap(), ClassWeight::None);
        assert_eq!(read("class_weight = 'None'").unwrap(), ClassWeight::None);
        assert_eq!(
            read("class_weight = 'balanced'").unwrap(),
            ClassWeight::Balanced
        );
        assert_eq!(
            read("class_weight = 'balanced_subsample'").unwrap(),
            ClassWeight::BalancedSubsample
        );
        assert_eq!(
            read("class_weight = { 0 = 1, \"b\" = 2.5 }").unwrap(),
            map(&[("0", 1.0), ("b", 2.5)])
        );
        let err = read("class_weight = 'even'").unwrap_err().to_string();
        assert!(
            err.contains("class_weight") && err.contains("\"even\""),
            "{err}"
        );
        let json = |text: &str| serde_json::from_str::<Holder>(text).unwrap().class_weight;
        assert_eq!(json(r#"{"class_weight": null}"#), ClassWeight::None);
        assert_eq!(json(r#"{"class_weight": {"1": 4.0}}"#), map(&[("1", 4.0)]));
    }

    /// What this build writes, it reads back: JSON (saved models), TOML, bincode and MessagePack
    /// (messages between ranks).
    #[test]
    fn round_trips_in_every_format() {
        for class_weight in [
            ClassWeight::None,
            ClassWeight::Balanced,
            ClassWeight::BalancedSubsample,
            map(&[("7", 0.5), ("x", 3.0)]),
        ] {
            let h = Holder { class_weight };
            let json = serde_json::to_string(&h).unwrap();
            assert_eq!(serde_json::from_str::<Holder>(&json).unwrap(), h, "{json}");
            let text = toml::to_string(&h).unwrap();
            assert_eq!(toml::from_str::<Holder>(&text).unwrap(), h, "{text}");
            let config = bincode::config::standard();
            let bytes = bincode::serde::encode_to_vec(&h, config).unwrap();
            let (back, _): (Holder, usize) =
                bincode::serde::decode_from_slice(&bytes, config).unwrap();
            assert_eq!(back, h);
            let bytes = rmp_serde::to_vec_named(&h).unwrap();
            assert_eq!(rmp_serde::from_slice::<Holder>(&bytes).unwrap(), h);
        }
        let none = Holder {
            class_weight: ClassWeight::None,
        };
        assert_eq!(
            serde_json::to_string(&none).unwrap(),
            r#"{"class_weight":null}"#
        );
    }
}
