// The handset page: noVNC's RFB client draws the screen; a JSON-RPC client speaks the control API
// (Protocols/control.md: one JSON text per line, a hub.hello greeting, events as notifications) over a
// WebSocket that websockify bridges to the hub's TCP control endpoint.
import RFB from './novnc/core/rfb.js';

// Keysyms the hub's keypad maps (Protocols/framebuffer.md §4): digits, '*', '#', CALL = F3, END = F4,
// CLEAR = BackSpace.
export const KEYSYMS = {
    '0': 0x30, '1': 0x31, '2': 0x32, '3': 0x33, '4': 0x34, '5': 0x35, '6': 0x36, '7': 0x37, '8': 0x38,
    '9': 0x39, '*': 0x2a, '#': 0x23, call: 0xffc0, end: 0xffc1, clear: 0xff08,
};
const MAX_EVENTS = 200;
const MAX_LINE = 1 << 24;

// Settings from the address's fragment (never sent to the server): `key` selects the websockify bridges
// (`rfb-KEY`, `control-KEY`; required off loopback, Deploy/web.md), `hubToken` answers a control endpoint
// that greets with "auth":"token", `vncPassword` a framebuffer with a password.
const settings = new URLSearchParams(location.hash.slice(1));
const key = settings.get('key') || 'local';
const wsBase = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/websockify`;

class Control {
    constructor(url) {
        this.pending = new Map();
        this.nextId = 1;
        this.buffer = '';
        this.decoder = new TextDecoder();
        this.encoder = new TextEncoder();
        this.onEvent = () => {};
        this.onClose = () => {};
        this.ready = new Promise((resolve, reject) => { this.greeted = resolve; this.failed = reject; });
        this.ws = new WebSocket(url, ['binary']);
        this.ws.binaryType = 'arraybuffer';
        this.ws.onmessage = (message) => this.received(message.data);
        this.ws.onerror = () => this.failed(new Error('control WebSocket failed'));
        this.ws.onclose = () => {
            for (const { reject } of this.pending.values()) reject(new Error('control connection closed'));
            this.pending.clear();
            this.onClose();
        };
    }

    received(data) {
        this.buffer += typeof data === 'string' ? data : this.decoder.decode(data, { stream: true });
        if (this.buffer.length > MAX_LINE) { this.ws.close(); return; }
        let newline;
        while ((newline = this.buffer.indexOf('\n')) >= 0) {
            const line = this.buffer.slice(0, newline).trim();
            this.buffer = this.buffer.slice(newline + 1);
            if (line) this.dispatch(JSON.parse(line));
        }
    }

    dispatch(message) {
        if (message.method === 'hub.hello') { this.hello = message.params; this.greeted(message.params); return; }
        if (message.method === 'event' || message.method === 'events.missed') { this.onEvent(message); return; }
        const waiter = this.pending.get(message.id);
        if (!waiter) return;
        this.pending.delete(message.id);
        if (message.error) waiter.reject(Object.assign(new Error(message.error.message), message.error));
        else waiter.resolve(message.result);
    }

    call(method, params = {}) {
        const id = this.nextId++;
        const line = JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n';
        return new Promise((resolve, reject) => {
            this.pending.set(id, { resolve, reject });
            this.ws.send(this.encoder.encode(line));
        });
    }
}

function element(tag, text, attributes = {}) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    return node;
}

function setStatus(state, text) {
    const status = document.getElementById('status');
    status.dataset.state = state;
    status.textContent = text;
}

const page = { control: null, rfb: null, events: [], received: [] };
window.handset = page; // for the browser test and the curious

async function refreshPartitions() {
    const { partitions } = await page.control.call('partition.list');
    const body = document.querySelector('#partitions tbody');
    body.replaceChildren(...partitions.map((p) => {
        const row = element('tr', undefined, { 'data-partition': p.name, 'data-state': p.state });
        for (const value of [p.name, p.class, p.state, String(p.attached)]) row.append(element('td', value));
        return row;
    }));
}

async function refreshModem() {
    let status, sent;
    try {
        status = await page.control.call('modem.status');
        sent = await page.control.call('modem.sms.sent');
    } catch (error) {
        document.getElementById('modem').textContent = `no modem: ${error.message}`;
        return;
    }
    const modem = document.getElementById('modem');
    modem.textContent = `${status.modem}: ${status.registration}, ${status.operator?.name ?? status.operator}, rssi ${status.rssi}`;
    modem.dataset.registration = status.registration;
    modem.dataset.rssi = status.rssi;
    document.getElementById('calls').replaceChildren(...status.calls.map((call) =>
        element('li', `#${call.id} ${call.direction} ${call.number} ${call.state}`,
            { 'data-call': call.id, 'data-state': call.state })));
    const received = page.received.map((sms) => element('li', `from ${sms.from}: ${sms.text}`, { 'data-direction': 'received' }));
    const guestSent = sent.messages.map((sms) => element('li', `to ${sms.to}: ${sms.text ?? sms.pdu}`, { 'data-direction': 'sent' }));
    document.getElementById('sms-list').replaceChildren(...received, ...guestSent);
}

function showEvent(message) {
    const list = document.getElementById('events');
    let text;
    if (message.method === 'events.missed') {
        text = `missed ${message.params.count} events (${message.params.reason})`;
    } else {
        const e = message.params;
        page.events.push(e);
        if (page.events.length > MAX_EVENTS) page.events.shift();
        text = `${e.seq} ${e.kind} ${e.partition ?? ''} ${e.device ?? ''} ${JSON.stringify(e.data)}`;
        if (e.kind === 'modem.sms.received') page.received.push(e.data);
    }
    list.prepend(element('li', text, message.params.kind ? { 'data-kind': message.params.kind } : {}));
    while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}

function onEvent(message) {
    showEvent(message);
    const kind = message.params.kind || '';
    if (kind.startsWith('partition.')) refreshPartitions().catch(console.error);
    if (kind.startsWith('modem.')) refreshModem().catch(console.error);
}

function connectScreen() {
    const rfb = new RFB(document.getElementById('screen'), `${wsBase}?token=rfb-${encodeURIComponent(key)}`,
        { shared: true });
    rfb.scaleViewport = false;
    // A framebuffer served off loopback has a VNC password (Deploy/config-reference.md): from the fragment.
    rfb.addEventListener('credentialsrequired', () => rfb.sendCredentials({ password: settings.get('vncPassword') || '' }));
    rfb.addEventListener('connect', () => { page.screenConnected = true; });
    rfb.addEventListener('disconnect', () => { page.screenConnected = false; setStatus('error', 'screen disconnected'); });
    page.rfb = rfb;
}

function wireKeypad() {
    for (const button of document.querySelectorAll('#keypad button')) {
        button.addEventListener('click', () => {
            const keysym = KEYSYMS[button.dataset.key];
            page.rfb.sendKey(keysym, null, true);
            page.rfb.sendKey(keysym, null, false);
        });
    }
}

function action(formId, method, params) {
    document.getElementById(formId).addEventListener('submit', (submit) => {
        submit.preventDefault();
        const form = new FormData(submit.target);
        page.control.call(method, params(form)).catch((error) => showEvent({ method: 'error', params: { kind: 'page.error', data: error.message } }));
    });
}

function wireNetworkActions() {
    action('ring', 'modem.call.incoming', (f) => ({ number: f.get('number') }));
    action('sms', 'modem.sms.deliver', (f) => ({ from: f.get('from'), text: f.get('text') }));
    action('signal', 'modem.signal', (f) => ({ rssi: Number(f.get('rssi')) }));
    action('registration', 'modem.registration', (f) => ({ state: f.get('state') }));
    document.getElementById('hangup').addEventListener('click', () => page.control.call('modem.call.hangup').catch(console.error));
}

async function connectControl() {
    const control = new Control(`${wsBase}?token=control-${encodeURIComponent(key)}`);
    control.onEvent = onEvent;
    control.onClose = () => setStatus('error', 'control connection closed');
    page.control = control;
    const hello = await control.ready;
    if (hello.auth === 'token') await control.call('hub.authenticate', { token: settings.get('hubToken') || '' });
    const info = await control.call('hub.info');
    document.getElementById('platform').textContent = `${info.platform?.name ?? info.platform ?? ''} (hubd ${hello.version})`;
    // The last events first (replayed from the hub's buffer), then live ones as they happen (§12.1).
    await control.call('events.subscribe', { since: Math.max(0, info.lastSeq - 50) });
    await Promise.all([refreshPartitions(), refreshModem()]);
    setStatus('connected', 'connected');
    page.ready = true;
}

wireKeypad();
wireNetworkActions();
connectScreen();
connectControl().catch((error) => setStatus('error', error.message));
