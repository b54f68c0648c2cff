//! Text formatting of `f32` values exactly as NumPy's `str(numpy.float32(x))`
//! prints them, so that text files written here are byte-identical to the
//! ones gensim writes.
//!
//! NumPy prints the shortest decimal that reads back to the same `f32`,
//! positionally when `1e-4 <= |x| < 1e6` (or `x == 0`) with at least one
//! digit after the point (`1.0`, `0.0001`), and otherwise in scientific form
//! with a signed, at least two-digit exponent (`1e-05`, `1.2345679e+08`).
//! Rust's `{}` and `{:e}` give the same shortest digits, so only the layout
//! is rewritten here.

use std::io::Write;

/// Appends `x` formatted as `str(numpy.float32(x))` to `out`.
///
/// ```
/// let f = |x: f32| { let mut v = Vec::new(); embedrs::io::floatfmt::write_f32(&mut v, x); String::from_utf8(v).unwrap() };
/// assert_eq!(f(1.0), "1.0");
/// assert_eq!(f(0.1), "0.1");
/// assert_eq!(f(1e-5), "1e-05");
/// assert_eq!(f(-123456790.0), "-1.2345679e+08");
/// ```
pub fn write_f32(out: &mut Vec<u8>, x: f32) {
    if x.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    let ax = (x as f64).abs();
    if x == 0.0 || (1e-4..1e6).contains(&ax) {
        let start = out.len();
        let _ = write!(out, "{x}");
        if !out[start..].contains(&b'.') {
            out.extend_from_slice(b".0");
        }
    } else {
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        out.extend_from_slice(mantissa.as_bytes());
        out.push(b'e');
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => (b'-', d),
            None => (b'+', exp),
        };
        out.push(sign);
        if digits.len() < 2 {
            out.push(b'0');
        }
        out.extend_from_slice(digits.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f32) -> String {
        let mut v = Vec::new();
        write_f32(&mut v, x);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn matches_numpy_layout() {
        assert_eq!(f(0.0), "0.0");
        assert_eq!(f(-0.0), "-0.0");
        assert_eq!(f(1e-4), "1e-04");
        assert_eq!(f(0.00025), "0.00025");
        assert_eq!(f(123456.7), "123456.7");
        assert_eq!(f(1e6), "1e+06");
        assert_eq!(f(3.4e38), "3.4e+38");
        assert_eq!(f(1e-45), "1e-45");
        assert_eq!(f(f32::NAN), "nan");
        assert_eq!(f(f32::NEG_INFINITY), "-inf");
    }
}
