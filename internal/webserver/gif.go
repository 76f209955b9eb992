package webserver

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
)

// iconSize is the size of Apache's /icons/apache_pb2.gif as served by the
// instances of the reference case (cloudfront.md §1.7: sc-content-len 4234).
const iconSize = 4234

// Badge geometry. UNCONFIRMED: the real apache_pb2.gif is a 259x32 "Powered
// by Apache" badge; only its byte size is known from the reference logs.
const (
	badgeW     = 259
	badgeH     = 32
	glyphScale = 2
)

// glyphs is a 5x7 bitmap font for the badge text.
var glyphs = map[rune][7]string{
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'O': {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "##.##", "#...#"},
	'E': {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'D': {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."},
	'B': {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'Y': {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'H': {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	' ': {".....", ".....", ".....", ".....", ".....", ".....", "....."},
}

// badgeGIF renders the "Powered by Apache" badge and pads it with a GIF
// comment extension to exactly iconSize bytes.
func badgeGIF() ([]byte, error) {
	pal := color.Palette{
		color.RGBA{0xff, 0xff, 0xff, 0xff}, // background
		color.RGBA{0x6d, 0x1f, 0x5f, 0xff}, // border (Apache feather purple)
		color.RGBA{0xc8, 0x10, 0x2e, 0xff}, // "APACHE" red
		color.RGBA{0x20, 0x20, 0x20, 0xff}, // "POWERED BY" dark grey
	}
	img := image.NewPaletted(image.Rect(0, 0, badgeW, badgeH), pal)
	for x := 0; x < badgeW; x++ {
		img.SetColorIndex(x, 0, 1)
		img.SetColorIndex(x, badgeH-1, 1)
	}
	for y := 0; y < badgeH; y++ {
		img.SetColorIndex(0, y, 1)
		img.SetColorIndex(badgeW-1, y, 1)
	}
	// A stylised feather: a diagonal stripe on the left.
	for y := 4; y < badgeH-4; y++ {
		for w := 0; w < 4; w++ {
			img.SetColorIndex(10+(badgeH-4-y)/2+w, y, uint8(1+(y/6)%2))
		}
	}
	x := 36
	x = drawText(img, "POWERED BY ", x, 9, 3)
	drawText(img, "APACHE", x, 9, 2)

	var buf bytes.Buffer
	if err := gif.Encode(&buf, img, &gif.Options{NumColors: len(pal)}); err != nil {
		return nil, fmt.Errorf("webserver: encode badge: %w", err)
	}
	return padGIF(buf.Bytes(), iconSize)
}

// drawText draws s at (x, y) in colour index c and returns the x after it.
func drawText(img *image.Paletted, s string, x, y int, c uint8) int {
	for _, r := range s {
		g := glyphs[r]
		for row, line := range g {
			for col, px := range line {
				if px != '#' {
					continue
				}
				for dy := 0; dy < glyphScale; dy++ {
					for dx := 0; dx < glyphScale; dx++ {
						img.SetColorIndex(x+col*glyphScale+dx, y+row*glyphScale+dy, c)
					}
				}
			}
		}
		x += 6 * glyphScale
	}
	return x
}

// padGIF inserts a comment extension before the GIF trailer so the file is
// exactly size bytes long.
func padGIF(g []byte, size int) ([]byte, error) {
	if len(g) == 0 || g[len(g)-1] != 0x3b {
		return nil, errors.New("webserver: GIF has no trailer")
	}
	// Comment extension: 0x21 0xFE, k sub-blocks of (1 length byte + 1..255
	// data bytes), a 0x00 terminator.
	room := size - len(g) - 3
	if room < 2 {
		return nil, fmt.Errorf("webserver: GIF is %d bytes, cannot pad to %d", len(g), size)
	}
	k := (room + 255) / 256 // blocks needed so that data = room-k fits in k*255
	data := room - k
	const text = "kumo built-in web server: stand-in for Apache's apache_pb2.gif, padded to its size. "
	out := make([]byte, 0, size)
	out = append(out, g[:len(g)-1]...)
	out = append(out, 0x21, 0xfe)
	written := 0
	for i := 0; i < k; i++ {
		n := (data - written) / (k - i) // spread evenly, each 1..255
		out = append(out, byte(n))
		for j := 0; j < n; j++ {
			out = append(out, text[(written+j)%len(text)])
		}
		written += n
	}
	out = append(out, 0x00, 0x3b)
	if len(out) != size {
		return nil, fmt.Errorf("webserver: padded GIF is %d bytes, want %d", len(out), size)
	}
	return out, nil
}
