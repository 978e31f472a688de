// How a value (bytes) is shown: as text when it is valid UTF-8 without control characters
// (newlines and tabs aside), otherwise as base64, marked as such so nobody mistakes the
// encoding for the value.
import {Buffer} from 'node:buffer'

export type ValueDisplay = {readonly kind: 'text'; readonly text: string} | {readonly kind: 'base64'; readonly base64: string}

const strictUtf8 = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true})

/** C0 controls other than tab, newline and carriage return; DEL; C1 controls. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const unprintable = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/u

export function displayValue(bytes: Uint8Array): ValueDisplay {
  let text: string
  try {
    text = strictUtf8.decode(bytes)
  } catch {
    return {kind: 'base64', base64: base64Of(bytes)}
  }
  return unprintable.test(text) ? {kind: 'base64', base64: base64Of(bytes)} : {kind: 'text', text}
}

/** The value in JSON: `{value}` for text, `{valueBase64}` otherwise. */
export function valueJson(bytes: Uint8Array): {value: string} | {valueBase64: string} {
  const shown = displayValue(bytes)
  return shown.kind === 'text' ? {value: shown.text} : {valueBase64: shown.base64}
}

/** The value for a table cell. */
export function valueText(bytes: Uint8Array): string {
  const shown = displayValue(bytes)
  return shown.kind === 'text' ? shown.text : `(base64) ${shown.base64}`
}

function base64Of(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}
