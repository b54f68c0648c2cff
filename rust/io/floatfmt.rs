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
    if x.is_sign_negative() {
        out.push(b'-');
    }
    let ax = x.abs();
    let (digits, exp) = shortest_digits(ax);
    if ax == 0.0 || (1e-4..1e6).contains(&(ax as f64)) {
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
fn shortest_digits(x: f32) -> (Vec<u8>, i32) {
    shortest_digits_with(x, tie_possible(x))
}

fn shortest_digits_with(x: f32, check_ties: bool) -> (Vec<u8>, i32) {
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
            if parse_digits::<f32>(&cand, exp) != Some(x) {
                continue;
            }
            // midpoint = the lower of the two, followed by a 5
            let mut mid = if delta < 0 {
                cand.clone()
            } else {
                digits.clone()
            };
            mid.push(b'5');
            if parse_digits::<f64>(&mid, exp) != Some(x as f64) {
                continue;
            }
            // confirm the tie on the exact decimal expansion of x
            let exact = format!("{:.120e}", x as f64);
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

/// Whether `x` can lie exactly halfway between two shortest candidates.
///
/// A tie means `x` equals a decimal of at most 10 significant digits (the
/// at most 9 shortest digits plus a final 5). Writing `x = m * 2^e` with
/// `m` odd, for `e < 0` the exact decimal expansion of `x` has the digits
/// of `m * 5^-e`, at least `-e * log10(5)` of them, so more than 10 once
/// `e < -14`. Typical embedding weights have `e` near -30: this test skips
/// the costly tie check for them (it made writing text files slow).
fn tie_possible(x: f32) -> bool {
    let bits = x.to_bits();
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
            skipped += !tie_possible(x) as u32;
            assert_eq!(shortest_digits(x), shortest_digits_with(x, true), "{x:e}");
        }
        assert!(skipped > 50_000, "the fast path is taken ({skipped})");
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
