package feed

import (
	"math/rand/v2"
	"testing"
)

// FuzzParseFrame: the frame parser never panics and classifies what it accepts.
func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{"o", "h", "a[]", `c[3000,"Go away!"]`, quoteFrame, "", "x", "c[", `a[{"s":200,"i":1}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := parseFrame(data)
		if err != nil {
			return
		}
		if fr.kind < frameOpen || fr.kind > frameClose {
			t.Fatalf("kind %d", fr.kind)
		}
		if fr.kind == frameArray {
			var d decoder
			var b Batch
			_ = d.decode(fr.payload, &b)
		}
	})
}

// FuzzDecode: the decoder never panics, keeps nothing of a malformed
// frame, decodes the same input the same way twice with reused buffers,
// and the same way with its compact paths on and off.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{quoteFrame[1:], domFrame(3)[1:], `[{"s":200,"i":1}]`, `[{"e":"shutdown","d":{"reasonCode":"Maintenance"}}]`,
		`[{"d":{"quotes":[{"contractId":1,"timestamp":"2021-04-13T04:59:06Z"}]},"e":"md"}]`, `[{"e":"clock","d":"{\"t\":1}"}]`,
		`[{"e":"md","d":{"histograms":[{"contractId":1,"items":{"-1":5}}]}}]`, `[[[[[[[[]]]]]]]]`, `[1e400]`, `["\u00e9\\"]`} {
		f.Add([]byte(s))
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 8; i++ {
		f.Add(serverFrame(rng))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeBoth(t, data)
		var d decoder
		var b Batch
		err := d.decode(data, &b)
		if err != nil {
			if len(b.Quotes) != 0 || len(b.DOMs) != 0 || len(d.msgs) != 0 {
				t.Fatal("malformed frame left output")
			}
			return
		}
		// Decoding twice with the same decoder gives the same result.
		nq, nd, nm := len(b.Quotes), len(b.DOMs), len(d.msgs)
		if err := d.decode(data, &b); err != nil || len(b.Quotes) != nq || len(b.DOMs) != nd || len(d.msgs) != nm {
			t.Fatalf("second decode differs: %v", err)
		}
	})
}
