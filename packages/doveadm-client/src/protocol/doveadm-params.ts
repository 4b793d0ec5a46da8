/** A doveadm HTTP parameter value; the names are doveadm's camelCase ones (`fullSync`). */
export type DoveadmParamValue = string | number | boolean | readonly string[];

export type DoveadmParams = Readonly<Record<string, DoveadmParamValue>>;
