//! JS values as the API's options take them, refused in a JS caller's words: an unknown key is
//! named with the likely intended one, and a value of the wrong kind is named with what it got
//! and what the option takes (`option 'noWait' must be true or false, not 'yes'`), never with
//! a Rust type.

use super::abort::Abort;
use super::options::{EnvOption, OnWait};
use crate::error::Error;
use napi::bindgen_prelude::{Array, Either, FromNapiValue, Object, Unknown, ValueType};
use napi::{sys, JsValue};

/// An options object as given: checked for unknown keys, then read field by field.
pub(super) struct Given<'env> {
    env: sys::napi_env,
    object: Option<Object<'env>>,
    /// What the object is, in messages: `options`, or an argument such as `request`.
    subject: &'static str,
}

impl Given<'_> {
    /// `undefined` and `null` are an object without keys; anything else must be an object
    /// whose keys are all `fields` (in camelCase).
    ///
    /// # Safety
    /// `value` is a live value of `env`, as napi hands it to `from_napi_value`.
    pub(super) unsafe fn new(
        env: sys::napi_env,
        value: sys::napi_value,
        fields: &[&str],
    ) -> napi::Result<Self> {
        unsafe { Self::named("options", env, value, fields) }
    }

    /// [`Given::new`] for an object argument other than the options, named `subject`.
    ///
    /// # Safety
    /// As for [`Given::new`].
    pub(super) unsafe fn named(
        subject: &'static str,
        env: sys::napi_env,
        value: sys::napi_value,
        fields: &[&str],
    ) -> napi::Result<Self> {
        let kind = napi::bindgen_prelude::type_of!(env, value)?;
        if matches!(kind, ValueType::Undefined | ValueType::Null) {
            return Ok(Given {
                env,
                object: None,
                subject,
            });
        }
        if kind != ValueType::Object || unsafe { is_array(env, value) }? {
            let got = unsafe { described(env, value) }?;
            return Err(invalid(format!("{subject} must be an object, not {got}")));
        }
        let object = Object::from_raw(env, value);
        let known: Vec<String> = fields.iter().map(|field| camel_case(field)).collect();
        if let Some(unknown) = Object::keys(&object)?
            .into_iter()
            .find(|key| !known.contains(key))
        {
            return Err(invalid(unknown_option(&unknown, &known)));
        }
        Ok(Given {
            env,
            object: Some(object),
            subject,
        })
    }

    /// The field `field` (snake case, as declared), or what a left-out one reads as.
    pub(super) fn read<T: Slot>(&self, field: &str) -> napi::Result<T> {
        let key = camel_case(field);
        let Some(object) = &self.object else {
            return Ok(T::absent());
        };
        // `get` reads an undefined property as left out.
        let Some(value) = object.get::<Unknown>(&key)? else {
            return Ok(T::absent());
        };
        let raw = value.raw();
        let kind = napi::bindgen_prelude::type_of!(self.env, raw)?;
        let name = Name {
            subject: self.subject,
            key: &key,
        };
        match unsafe { T::Value::from_js(self.env, raw, kind, name) }? {
            Some(value) => Ok(T::given(value)),
            None => Err(wrong_kind(self.env, raw, &name.whole(), T::Value::TAKES)),
        }
    }
}

/// How a message names a value given: an option (`option 'env'`), a field of an argument
/// (`request.body`), or an argument (`command`); and an element of it (`option 'env[1]'`).
#[derive(Clone, Copy)]
pub(super) struct Name<'a> {
    /// `options`, an argument's name, or empty for the argument `key` itself.
    pub(super) subject: &'a str,
    pub(super) key: &'a str,
}

impl Name<'_> {
    pub(super) fn whole(self) -> String {
        self.with_key(self.key)
    }

    pub(super) fn element(self, index: u32) -> String {
        self.with_key(&format!("{}[{index}]", self.key))
    }

    pub(super) fn member(self, key: &str) -> String {
        self.with_key(&format!("{}.{key}", self.key))
    }

    fn with_key(self, key: &str) -> String {
        match self.subject {
            "options" => format!("option '{key}'"),
            "" => key.to_string(),
            subject => format!("{subject}.{key}"),
        }
    }
}

/// A JS value as an option takes it.
pub(super) trait FromJs: Sized {
    /// What the option takes, in words: `true or false`.
    const TAKES: &'static str;

    /// The value, of kind `kind`; `None` when it is not of a kind the option takes. `name`
    /// names the option, for refusing a part of the value (an element of an array).
    ///
    /// # Safety
    /// `value` is a live value of `env`.
    unsafe fn from_js(
        env: sys::napi_env,
        value: sys::napi_value,
        kind: ValueType,
        name: Name,
    ) -> napi::Result<Option<Self>>;
}

/// A value of one JS kind, read by napi once the kind is right.
macro_rules! of_kind {
    ($type:ty, $kind:pat, $takes:literal) => {
        impl FromJs for $type {
            const TAKES: &'static str = $takes;
            unsafe fn from_js(
                env: sys::napi_env,
                value: sys::napi_value,
                kind: ValueType,
                _: Name,
            ) -> napi::Result<Option<Self>> {
                match kind {
                    $kind => unsafe { <$type>::from_napi_value(env, value) }.map(Some),
                    _ => Ok(None),
                }
            }
        }
    };
}

of_kind!(String, ValueType::String, "a string");
of_kind!(bool, ValueType::Boolean, "true or false");
of_kind!(OnWait, ValueType::Function, "a function");
// index.js turns the caller's `AbortSignal` into an interrupt handle (an external value).
of_kind!(Abort, ValueType::External, "an AbortSignal");

/// A duration: milliseconds, or text the duration parser reads.
impl FromJs for Either<f64, String> {
    const TAKES: &'static str =
        "a duration: milliseconds (1500) or text such as '30s', '20m', '2h'";
    unsafe fn from_js(
        env: sys::napi_env,
        value: sys::napi_value,
        kind: ValueType,
        _: Name,
    ) -> napi::Result<Option<Self>> {
        match kind {
            ValueType::Number => {
                unsafe { f64::from_napi_value(env, value) }.map(|n| Some(Either::A(n)))
            }
            ValueType::String => {
                unsafe { String::from_napi_value(env, value) }.map(|text| Some(Either::B(text)))
            }
            _ => Ok(None),
        }
    }
}

/// A count: a whole number (napi would truncate 1.5 to 1 without a word).
impl FromJs for i64 {
    const TAKES: &'static str = "a whole number";
    unsafe fn from_js(
        env: sys::napi_env,
        value: sys::napi_value,
        kind: ValueType,
        _: Name,
    ) -> napi::Result<Option<Self>> {
        if kind != ValueType::Number {
            return Ok(None);
        }
        let number = unsafe { f64::from_napi_value(env, value) }?;
        Ok(whole(number))
    }
}

impl FromJs for EnvOption {
    const TAKES: &'static str = "an env name or an array of env names";
    unsafe fn from_js(
        env: sys::napi_env,
        value: sys::napi_value,
        kind: ValueType,
        name: Name,
    ) -> napi::Result<Option<Self>> {
        match kind {
            ValueType::String => unsafe { String::from_napi_value(env, value) }
                .map(|env| Some(EnvOption(Either::A(env)))),
            ValueType::Object if unsafe { is_array(env, value) }? => {
                let names = unsafe { strings(env, value, name, "an env name") }?;
                Ok(Some(EnvOption(Either::B(names))))
            }
            _ => Ok(None),
        }
    }
}

/// An object of any keys, such as HTTP headers.
impl FromJs for serde_json::Map<String, serde_json::Value> {
    const TAKES: &'static str = "an object";
    unsafe fn from_js(
        env: sys::napi_env,
        value: sys::napi_value,
        kind: ValueType,
        _: Name,
    ) -> napi::Result<Option<Self>> {
        if kind != ValueType::Object || unsafe { is_array(env, value) }? {
            return Ok(None);
        }
        match unsafe { serde_json::Value::from_napi_value(env, value) }? {
            serde_json::Value::Object(map) => Ok(Some(map)),
            _ => Ok(None),
        }
    }
}

/// An object of text values, such as Slack member ids to users.
impl FromJs for std::collections::HashMap<String, String> {
    const TAKES: &'static str = "an object of strings";
    unsafe fn from_js(
        env: sys::napi_env,
        value: sys::napi_value,
        kind: ValueType,
        name: Name,
    ) -> napi::Result<Option<Self>> {
        if kind != ValueType::Object || unsafe { is_array(env, value) }? {
            return Ok(None);
        }
        let object = Object::from_raw(env, value);
        let mut map = Self::new();
        for key in Object::keys(&object)? {
            let Some(member) = object.get::<Unknown>(&key)? else {
                continue;
            };
            let member = member.raw();
            if napi::bindgen_prelude::type_of!(env, member)? != ValueType::String {
                let got = unsafe { described(env, member) }?;
                let member_name = name.member(&key);
                return Err(invalid(format!(
                    "{member_name} must be a string, not {got}"
                )));
            }
            map.insert(key, unsafe { String::from_napi_value(env, member) }?);
        }
        Ok(Some(map))
    }
}

/// How a field reads when its key is left out: an optional one as `None`; required text as
/// empty, which the validation every front door shares then refuses by name.
pub(super) trait Slot: Sized {
    type Value: FromJs;
    fn absent() -> Self;
    fn given(value: Self::Value) -> Self;
}

impl<T: FromJs> Slot for Option<T> {
    type Value = T;
    fn absent() -> Self {
        None
    }
    fn given(value: T) -> Self {
        Some(value)
    }
}

impl Slot for String {
    type Value = String;
    fn absent() -> Self {
        String::new()
    }
    fn given(value: String) -> Self {
        value
    }
}

impl Slot for EnvOption {
    type Value = EnvOption;
    fn absent() -> Self {
        EnvOption::default()
    }
    fn given(value: EnvOption) -> Self {
        value
    }
}

/// An array of strings; a refused element is named after `name`, and `each` says what an
/// element takes.
///
/// # Safety
/// `value` is a live array of `env`.
pub(super) unsafe fn strings(
    env: sys::napi_env,
    value: sys::napi_value,
    name: Name,
    each: &str,
) -> napi::Result<Vec<String>> {
    let array = unsafe { Array::from_napi_value(env, value) }?;
    let mut strings = Vec::with_capacity(array.len() as usize);
    for index in 0..array.len() {
        let Some(element) = array.get::<Unknown>(index)? else {
            break;
        };
        let element = element.raw();
        if napi::bindgen_prelude::type_of!(env, element)? != ValueType::String {
            let got = unsafe { described(env, element) }?;
            let element = name.element(index);
            return Err(invalid(format!("{element} must be {each}, not {got}")));
        }
        strings.push(unsafe { String::from_napi_value(env, element) }?);
    }
    Ok(strings)
}

/// Whether `value` (an object) is an array.
///
/// # Safety
/// `value` is a live value of `env`.
pub(super) unsafe fn is_array(env: sys::napi_env, value: sys::napi_value) -> napi::Result<bool> {
    let mut array = false;
    napi::check_status!(unsafe { sys::napi_is_array(env, value, &mut array) })?;
    Ok(array)
}

/// The refusal of a value of the wrong kind: `{name} must be {takes}, not {what it got}`.
pub(super) fn wrong_kind(
    env: sys::napi_env,
    value: sys::napi_value,
    name: &str,
    takes: &str,
) -> napi::Error {
    match unsafe { described(env, value) } {
        Ok(got) => invalid(format!("{name} must be {takes}, not {got}")),
        Err(error) => error,
    }
}

/// A JS value as a JS programmer would write it in a message: `'yes'`, `1.5`, `null`, `an
/// object`.
///
/// # Safety
/// `value` is a live value of `env`.
unsafe fn described(env: sys::napi_env, value: sys::napi_value) -> napi::Result<String> {
    let kind = napi::bindgen_prelude::type_of!(env, value)?;
    Ok(match kind {
        ValueType::Undefined => "undefined".into(),
        ValueType::Null => "null".into(),
        ValueType::Boolean => unsafe { bool::from_napi_value(env, value) }?.to_string(),
        ValueType::Number => js_number(unsafe { f64::from_napi_value(env, value) }?),
        ValueType::String => quoted(&unsafe { String::from_napi_value(env, value) }?),
        ValueType::Object if unsafe { is_array(env, value) }? => "an array".into(),
        ValueType::Object => "an object".into(),
        ValueType::Function => "a function".into(),
        ValueType::Symbol => "a symbol".into(),
        ValueType::BigInt => "a bigint".into(),
        ValueType::External | ValueType::Unknown => "a value of another kind".into(),
    })
}

/// A number as JS prints it: `1`, `1.5`, `NaN`, `-Infinity`.
fn js_number(number: f64) -> String {
    match number {
        n if n.is_nan() => "NaN".into(),
        n if n == f64::INFINITY => "Infinity".into(),
        n if n == f64::NEG_INFINITY => "-Infinity".into(),
        n => n.to_string(),
    }
}

/// Text in quotes, cut short when long (a message names the value, it does not repeat it).
fn quoted(text: &str) -> String {
    const SHOWN: usize = 40;
    match text.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("'{}…'", &text[..end]),
        None => format!("'{text}'"),
    }
}

/// A number that is a whole count, or `None`.
fn whole(number: f64) -> Option<i64> {
    // Beyond 2^53 a double no longer tells whole numbers apart.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    (number.fract() == 0.0 && number.abs() <= EXACT).then_some(number as i64)
}

/// Names the unknown key, and the known one it was probably meant to be.
fn unknown_option(unknown: &str, known: &[String]) -> String {
    let closest = known
        .iter()
        .map(|key| (strsim::jaro_winkler(unknown, key), key))
        .filter(|(similarity, _)| *similarity > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match closest {
        Some((_, key)) => format!("unknown option '{unknown}' (did you mean '{key}'?)"),
        None => format!("unknown option '{unknown}' (options: {})", known.join(", ")),
    }
}

/// `locks_table` is `locksTable` in JS, as napi names the fields of `#[napi(object)]`.
fn camel_case(field: &str) -> String {
    let mut words = field.split('_');
    let first = words.next().unwrap_or_default().to_string();
    words.fold(first, |mut name, word| {
        let mut letters = word.chars();
        if let Some(initial) = letters.next() {
            name.extend(initial.to_uppercase());
            name.push_str(letters.as_str());
        }
        name
    })
}

/// A refusal in the form index.js turns into `error.code` (`INVALID_ARGUMENT`).
fn invalid(message: String) -> napi::Error {
    super::js_error(&Error::usage(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_named_in_camel_case_as_napi_names_them() {
        assert_eq!(camel_case("env"), "env");
        assert_eq!(camel_case("no_wait"), "noWait");
        assert_eq!(camel_case("locks_table"), "locksTable");
    }

    #[test]
    fn an_unknown_option_is_named_with_the_likely_intended_one() {
        let known: Vec<String> = ["env", "user", "timeout", "ttl"].map(String::from).into();
        assert_eq!(
            unknown_option("timout", &known),
            "unknown option 'timout' (did you mean 'timeout'?)"
        );
        assert_eq!(
            unknown_option("colour", &known),
            "unknown option 'colour' (options: env, user, timeout, ttl)"
        );
    }

    #[test]
    fn values_are_shown_as_js_writes_them() {
        assert_eq!(js_number(1.0), "1");
        assert_eq!(js_number(1.5), "1.5");
        assert_eq!(js_number(-0.25), "-0.25");
        assert_eq!(js_number(f64::NAN), "NaN");
        assert_eq!(js_number(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(quoted("yes"), "'yes'");
        assert_eq!(quoted(&"x".repeat(50)), format!("'{}…'", "x".repeat(40)));
        assert_eq!(quoted(&"é".repeat(41)), format!("'{}…'", "é".repeat(40)));
    }

    #[test]
    fn a_count_is_a_whole_number() {
        assert_eq!(whole(20.0), Some(20));
        assert_eq!(whole(-3.0), Some(-3));
        assert_eq!(whole(1.5), None);
        assert_eq!(whole(f64::NAN), None);
        assert_eq!(whole(f64::INFINITY), None);
        assert_eq!(whole(1e300), None);
    }
}
