export const SERVICE_NAME = 'coditect-billing';
export const SERVICE_VERSION = '0.1.0';
