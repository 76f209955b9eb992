package accesslog

import (
	"math"
	"strconv"
	"time"
)

// appendDigits appends v (0 <= v) zero-padded to width digits.
func appendDigits(dst []byte, v, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for v > 0 || width > 0 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	return append(dst, buf[i:]...)
}

// appendDate appends t (already UTC) as YYYY-MM-DD.
func appendDate(dst []byte, t time.Time) []byte {
	y, m, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(dst, "2006-01-02")
	}
	return append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// appendClock appends t (already UTC) as HH:MM:SS.
func appendClock(dst []byte, t time.Time) []byte {
	h, mi, s := t.Clock()
	return append(dst, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10))
}

// appendSeconds3 appends a non-negative duration as seconds with exactly
// three decimals, rounded to the millisecond: the "%.3f" of AWS's logs
// (cloudfront.md §1.3 #19, alb.md §1.3 #6).
func appendSeconds3(dst []byte, d time.Duration) []byte {
	var ms int64
	if d <= math.MaxInt64-time.Millisecond/2 {
		// Round half up for d >= 0, as d.Round does, without its branches.
		ms = int64((d + time.Millisecond/2) / time.Millisecond)
	} else {
		ms = int64(d.Round(time.Millisecond) / time.Millisecond)
	}
	if ms < 10000 { // under 10 s, the common case: "S.mmm" at once
		f := int(ms % 1000)
		return append(dst, byte('0'+ms/1000), '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
	}
	dst = strconv.AppendInt(dst, ms/1000, 10)
	dst = append(dst, '.')
	return appendDigits(dst, int(ms%1000), 3)
}

// parseSeconds parses unsigned decimal seconds with at most maxFrac
// fractional digits ("0.011", "30", "1.121980746") into an exact Duration.
func parseSeconds(s string, maxFrac int) (time.Duration, bool) {
	if s == "" || len(s) > 24 {
		return 0, false
	}
	var whole, frac int64
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		whole = whole*10 + int64(s[i]-'0')
	}
	if i == 0 || i > 10 {
		return 0, false
	}
	nfrac := 0
	if i < len(s) {
		if s[i] != '.' || i+1 == len(s) {
			return 0, false
		}
		for i++; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			frac = frac*10 + int64(c-'0')
			nfrac++
		}
		if nfrac > maxFrac {
			return 0, false
		}
	}
	for ; nfrac < 9; nfrac++ {
		frac *= 10
	}
	return time.Duration(whole)*time.Second + time.Duration(frac), true
}

// parseUint parses a non-empty run of ASCII digits (no sign) of at most 18
// digits.
func parseUint(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// parseStatus parses a 3-digit HTTP status ("000" allowed).
func parseStatus(s string) (int, bool) {
	if len(s) != 3 {
		return 0, false
	}
	v, ok := parseUint(s)
	return int(v), ok
}

// appendStatus appends a status as three digits; 0 is "000".
func appendStatus(dst []byte, status int) []byte {
	if status >= 0 && status <= 999 {
		return appendDigits(dst, status, 3)
	}
	return strconv.AppendInt(dst, int64(status), 10)
}
