//! Text formatting of floats exactly as NumPy's `str()` prints them
//! (`str(numpy.float32(x))`, `str(numpy.float64(x))`), so that text files
//! written here are byte-identical to the ones gensim writes.
//!
//! NumPy prints the shortest decimal that reads back to the same value,
//! positionally when `1e-4 <= |x| < 1e6` for `float32` (`1e16` for
//! `float64`), or `x == 0`, with at least one digit after the point (`1.0`,
//! `0.0001`), and otherwise in scientific form with a signed, at least
//! two-digit exponent (`1e-05`, `1.2345679e+08`). Rust's `{}` and `{:e}`
//! give the same shortest digits, so only the layout is rewritten here
//! (and exact ties between two shortest candidates, see [`Shortest`]).

use std::io::Write;

/// A float type NumPy prints: `f32` or `f64`.
pub trait Shortest: Copy + PartialEq + std::fmt::LowerExp + std::str::FromStr {
    /// Lower end of NumPy's positional range (inclusive).
    const POSITIONAL_LOW: f64 = 1e-4;
    /// Upper end of NumPy's positional range (exclusive).
    const POSITIONAL_HIGH: f64;
    /// The value, exactly, as an `f64`.
    fn to_f64(self) -> f64;
    /// `|self|`.
    fn abs_value(self) -> Self;
    /// Whether `self` can lie exactly halfway between two shortest candidates.
    ///
    /// A tie means `x` equals a decimal of at most `D + 1` significant
    /// digits (the at most `D` shortest digits, 9 for `f32` and 17 for
    /// `f64`, plus a final 5). Writing `x = m * 2^e` with `m` odd, for
    /// `e < 0` the exact decimal expansion of `x` has the digits of
    /// `m * 5^-e`, at least `-e * log10(5)` of them: more than 10 once
    /// `e < -14` (`f32`), more than 18 once `e < -25` (`f64`). Typical
    /// embedding weights are far below these exponents: this test skips the
    /// costly tie check for them (it made writing text files slow).
    fn tie_possible(self) -> bool;
}

impl Shortest for f32 {
    const POSITIONAL_HIGH: f64 = 1e6;
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn abs_value(self) -> Self {
        self.abs()
    }
    fn tie_possible(self) -> bool {
        let bits = self.to_bits();
        let biased = ((bits >> 23) & 0xff) as i32;
        let mut m = bits & 0x7f_ffff;
        let mut e = if biased == 0 {
            -149
        } else {
            m |= 0x80_0000;
            biased - 150
        };
        if m == 0 {
            return false;
        }
        e += m.trailing_zeros() as i32;
        e >= -20
    }
}

impl Shortest for f64 {
    const POSITIONAL_HIGH: f64 = 1e16;
    fn to_f64(self) -> f64 {
        self
    }
    fn abs_value(self) -> Self {
        self.abs()
    }
    fn tie_possible(self) -> bool {
        let bits = self.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let mut m = bits & 0x000f_ffff_ffff_ffff;
        let mut e = if biased == 0 {
            -1074
        } else {
            m |= 0x0010_0000_0000_0000;
            biased - 1075
        };
        if m == 0 {
            return false;
        }
        e += m.trailing_zeros() as i32;
        e >= -32
    }
}

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
    write_numpy(out, x);
}

/// Appends `x` formatted as `str(numpy.float64(x))` to `out`.
///
/// ```
/// let f = |x: f64| { let mut v = Vec::new(); embedrs::io::floatfmt::write_f64(&mut v, x); String::from_utf8(v).unwrap() };
/// assert_eq!(f(0.1), "0.1");
/// assert_eq!(f(1.0 / 3.0), "0.3333333333333333");
/// assert_eq!(f(1e6), "1000000.0");
/// assert_eq!(f(1e16), "1e+16");
/// assert_eq!(f(9.9e-5), "9.9e-05");
/// ```
pub fn write_f64(out: &mut Vec<u8>, x: f64) {
    write_numpy(out, x);
}

fn write_numpy<T: Shortest>(out: &mut Vec<u8>, x: T) {
    let xf = x.to_f64();
    if xf.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if xf.is_infinite() {
        out.extend_from_slice(if xf > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if xf.is_sign_negative() {
        out.push(b'-');
    }
    let ax = xf.abs();
    let (digits, exp) = shortest_digits(x);
    if ax == 0.0 || (T::POSITIONAL_LOW..T::POSITIONAL_HIGH).contains(&ax) {
        if exp < 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
            out.extend_from_slice(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.extend_from_slice(&digits);
                out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
                out.extend_from_slice(b".0");
            } else {
                out.extend_from_slice(&digits[..int_len]);
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..]);
            }
        }
    } else {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let _ = write!(out, "{:02}", exp.unsigned_abs());
    }
}

/// Shortest round-trip significant digits of `x >= 0` and the decimal
/// exponent of the first one; on an exact tie between two shortest
/// candidates the even last digit wins (Dragon4's rule, which NumPy uses).
fn shortest_digits<T: Shortest>(x: T) -> (Vec<u8>, i32) {
    shortest_digits_with(x.abs_value(), x.tie_possible())
}

fn shortest_digits_with<T: Shortest>(x: T, check_ties: bool) -> (Vec<u8>, i32) {
    let s = format!("{x:e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = e.parse().unwrap_or(0);
    let mut digits: Vec<u8> = m.bytes().filter(|b| b.is_ascii_digit()).collect();
    let last = *digits.last().unwrap_or(&b'0');
    if (last - b'0') % 2 == 1 && check_ties {
        for delta in [-1i32, 1] {
            let cand_last = (last - b'0') as i32 + delta;
            if !(0..=9).contains(&cand_last) {
                continue;
            }
            let mut cand = digits.clone();
            *cand.last_mut().unwrap() = b'0' + cand_last as u8;
            if parse_digits::<T>(&cand, exp) != Some(x) {
                continue;
            }
            // midpoint = the lower of the two, followed by a 5
            let mut mid = if delta < 0 {
                cand.clone()
            } else {
                digits.clone()
            };
            mid.push(b'5');
            if parse_digits::<f64>(&mid, exp) != Some(x.to_f64()) {
                continue;
            }
            // confirm the tie on the exact decimal expansion of x
            let exact = format!("{:.800e}", x.to_f64());
            let (em, ee) = exact.split_once('e').unwrap_or((&exact, "0"));
            let mut ed: Vec<u8> = em.bytes().filter(|b| b.is_ascii_digit()).collect();
            while ed.len() > 1 && ed.last() == Some(&b'0') {
                ed.pop();
            }
            if ee.parse::<i32>().ok() == Some(exp) && ed == mid {
                digits = cand;
                break;
            }
        }
    }
    (digits, exp)
}

fn parse_digits<T: std::str::FromStr>(digits: &[u8], exp: i32) -> Option<T> {
    let mut s = String::with_capacity(digits.len() + 8);
    s.push(digits[0] as char);
    s.push('.');
    s.extend(digits[1..].iter().map(|&b| b as char));
    s.push_str(&format!("e{exp}"));
    s.parse().ok()
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
    fn skipping_impossible_ties_changes_nothing() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut skipped = 0;
        for i in 0..200_000u32 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // random bit patterns, and short dyadic values near ties
            let x = if i % 2 == 0 {
                f32::from_bits((state >> 32) as u32 & 0x7fff_ffff)
            } else {
                ((state >> 40) as f32) / 1024.0
            };
            if !x.is_finite() {
                continue;
            }
            skipped += !x.tie_possible() as u32;
            assert_eq!(shortest_digits(x), shortest_digits_with(x, true), "{x:e}");
        }
        assert!(skipped > 50_000, "the fast path is taken ({skipped})");
    }

    fn g(x: f64) -> String {
        let mut v = Vec::new();
        write_f64(&mut v, x);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn matches_numpy_float64_layout() {
        // expected strings are str(numpy.float64(x)) from NumPy 2
        assert_eq!(g(0.0), "0.0");
        assert_eq!(g(-0.0), "-0.0");
        assert_eq!(g(1e-4), "0.0001");
        assert_eq!(g(9.9e-5), "9.9e-05");
        assert_eq!(g(1e15), "1000000000000000.0");
        assert_eq!(g(123456789012345.6), "123456789012345.6");
        assert_eq!(g(1e16), "1e+16");
        assert_eq!(g(2.5e-310), "2.5e-310");
        assert_eq!(g(-1.0 / 3.0), "-0.3333333333333333");
        assert_eq!(g(f64::NAN), "nan");
        assert_eq!(g(f64::INFINITY), "inf");
        // every shortest string reads back to the same value
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let x = f64::from_bits(state & 0x7fff_ffff_ffff_ffff);
            if x.is_finite() {
                assert_eq!(g(x).parse::<f64>().unwrap(), x);
            }
        }
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
        assert_eq!(f(2_146_591.25_f64 as f32), "2.1465912e+06");
        assert_eq!(f(-0.00025), "-0.00025");
        assert_eq!(f(100.0), "100.0");
        assert_eq!(f(123456.0), "123456.0");
    }
}
