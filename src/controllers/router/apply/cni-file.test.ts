import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeCniFile, syncCniFile } from './cni-file.js';

let dir = '';
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'krt-rt-cnifile-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const params = { podCidrs: ['10.244.1.0/24'], mtu: 1500, hairpinMode: false, portmap: true };

describe('syncCniFile', () => {
  it('creates the directory and file, then leaves an unchanged file alone', async () => {
    const file = join(dir, 'net.d', '10-kuberouter.conflist');
    expect((await syncCniFile(file, params, [])).written).toBe(true);
    const ino = statSync(file).ino;
    expect((await syncCniFile(file, params, [])).written).toBe(false);
    expect(statSync(file).ino).toBe(ino);
  });
  it('replaces the file by rename (new inode), never in place, and leaves no temp files', async () => {
    const file = join(dir, '10-kuberouter.conflist');
    writeFileSync(file, JSON.stringify({ cniVersion: '0.3.1', name: 'kubernetes', plugins: [{ type: 'bridge', extra: 'x' }] }));
    const ino = statSync(file).ino;
    expect((await syncCniFile(file, params, [])).written).toBe(true);
    expect(statSync(file).ino).not.toBe(ino);
    expect(JSON.parse(readFileSync(file, 'utf8')).plugins[0].extra).toBe('x');
    expect(readdirSync(dir)).toEqual(['10-kuberouter.conflist']);
  });
  it('keeps an unparseable file aside and writes a fresh one', async () => {
    const file = join(dir, '10-kuberouter.conflist');
    writeFileSync(file, '{ "plugins": [ broken');
    const res = await syncCniFile(file, params, []);
    expect(res.replacedInvalid).toBe(`${file}.invalid`);
    expect(readFileSync(`${file}.invalid`, 'utf8')).toBe('{ "plugins": [ broken');
    expect(JSON.parse(readFileSync(file, 'utf8')).plugins[0].bridge).toBe('kube-bridge');
  });
  it('names the plugin binaries that are missing from every bin dir', async () => {
    const bin = join(dir, 'bin');
    const file = join(dir, 'x.conflist');
    await syncCniFile(file, params, [bin]); // creates nothing in bin
    const { mkdirSync } = await import('node:fs');
    mkdirSync(bin);
    for (const p of ['bridge', 'loopback']) { writeFileSync(join(bin, p), '#!/bin/sh\n'); chmodSync(join(bin, p), 0o755); }
    writeFileSync(join(bin, 'portmap'), ''); // present but not executable: still missing
    const res = await syncCniFile(file, params, [join(dir, 'nope'), bin]);
    expect(res.missingPlugins).toEqual(['host-local', 'portmap']);
  });
});

describe('removeCniFile (--cleanup-config)', () => {
  it('removes the config it writes, and keeps one that is not on kube-bridge', async () => {
    const ours = join(dir, '10-kuberouter.conflist');
    await syncCniFile(ours, params, []);
    expect(await removeCniFile(ours)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
    expect(await removeCniFile(ours)).toBe(false);
    const foreign = join(dir, '10-other.conflist');
    writeFileSync(foreign, JSON.stringify({ cniVersion: '0.3.1', name: 'x', plugins: [{ type: 'bridge', bridge: 'cni0' }] }));
    expect(await removeCniFile(foreign)).toBe(false);
    writeFileSync(join(dir, 'broken.conf'), '{');
    expect(await removeCniFile(join(dir, 'broken.conf'))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['10-other.conflist', 'broken.conf']);
  });
});
