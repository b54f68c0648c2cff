//! JSON text of float32 arrays, for services that answer with vectors.
//!
//! Each value is written as the shortest decimal that reads back to the same
//! `f32` (so `0.1f32` is `0.1`, not the `0.10000000149011612` of its `f64`
//! widening), by the `ryu` crate (Ryū, Adams 2018: several times faster than
//! `std::fmt`); NaN and the infinities, which JSON cannot hold, are `null`.
//! Values are separated by `,` with no spaces.

/// Appends `x` as a JSON number (or `null` when it is not finite).
pub fn write_f32(out: &mut Vec<u8>, x: f32) {
    if !x.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let mut buf = ryu::Buffer::new();
    out.extend_from_slice(buf.format_finite(x).as_bytes());
}

/// Appends `values` as a JSON array of numbers.
pub fn write_row(out: &mut Vec<u8>, values: &[f32]) {
    out.push(b'[');
    for (i, &x) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_f32(out, x);
    }
    out.push(b']');
}

/// The JSON array of `rows` (each a JSON array) of a row-major matrix with
/// `dim` columns; `dim == 0` gives `rows` empty arrays.
pub fn matrix(data: &[f32], rows: usize, dim: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + rows * (dim * 12 + 3));
    out.push(b'[');
    for r in 0..rows {
        if r > 0 {
            out.push(b',');
        }
        write_row(&mut out, &data[r * dim..(r + 1) * dim]);
    }
    out.push(b']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(x: f32) -> String {
        let mut v = Vec::new();
        write_f32(&mut v, x);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn values_read_back_exactly_and_stay_short() {
        assert_eq!(one(0.1), "0.1");
        assert_eq!(one(-2.5), "-2.5");
        assert_eq!(one(1.0), "1.0");
        assert_eq!(one(0.0), "0.0");
        assert_eq!(one(1e-5), "0.00001");
        assert_eq!(one(1e-9), "1e-9");
        assert_eq!(one(1.5e20), "1.5e20");
        assert_eq!(one(f32::MIN_POSITIVE / 8.0), "1.469368e-39");
        for x in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert_eq!(one(x), "null");
        }
        // every value of a spread of magnitudes parses back to itself
        let mut x = 1.234_567_9e-30f32;
        while x < 1e30 {
            for v in [x, -x, x * 1.000_001] {
                assert_eq!(one(v).parse::<f32>().unwrap(), v, "{v:e}");
            }
            x *= 3.7;
        }
    }

    #[test]
    fn matrix_layout() {
        let data = [1.0f32, 0.5, -0.25, f32::NAN, 3.0, 1e-7];
        let text = String::from_utf8(matrix(&data, 2, 3)).unwrap();
        assert_eq!(text, "[[1.0,0.5,-0.25],[null,3.0,1e-7]]");
        assert_eq!(String::from_utf8(matrix(&[], 2, 0)).unwrap(), "[[],[]]");
        assert_eq!(String::from_utf8(matrix(&[], 0, 4)).unwrap(), "[]");
    }
}
