// Reading SVG pictures in tests: a strict parse (any parser error or warning fails) and the
// elements of a tag and class.
import {DOMParser, type Element} from '@xmldom/xmldom'
import {expect} from 'vitest'

/** Parses strictly: any error or warning of the parser fails the test. */
export function parseSvg(text: string): Element {
  const parser = new DOMParser({
    onError: (level, message) => {
      throw new Error(`${level}: ${message}`)
    },
  })
  const document = parser.parseFromString(text, 'image/svg+xml')
  // xmldom lets a bare & or < in text pass; XML does not.
  expect(text.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '')).not.toMatch(/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/)
  const root = document.documentElement
  if (root === null) throw new Error('no root element')
  expect(root.tagName).toBe('svg')
  expect(root.getAttribute('xmlns')).toBe('http://www.w3.org/2000/svg')
  return root
}

export function elements(root: Element, tag: string, className: string): Element[] {
  return Array.from(root.getElementsByTagName(tag)).filter((element) => (element.getAttribute('class') ?? '').split(' ').includes(className))
}
